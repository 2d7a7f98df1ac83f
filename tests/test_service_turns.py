"""The service's latency work (issue 14): SQLite transactions taking turns in one process, the job
store reading beside them, batches scored while the judge was busy judged as one, and what
``Service.run`` changes in the interpreter only while it runs.

Real parts throughout: a real SQLite file, the runtime and service as ``longform run`` builds them.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

from bot.runtime.app import build_service
from bot.storage.journal import journal_rows
from bot.storage.schema import MemberPrefRow
from bot.storage.store import Store
from tests.builders import message
from tests.runtime_support import service_config
from tests.test_intake import _chat, _close, _runtime
from tests.waiting import eventually

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def _turn(store: Store) -> threading.Lock:
    with store.engine.connect() as connection:
        turn = getattr(connection.connection.dbapi_connection, "turn", None)
    assert isinstance(turn, type(threading.Lock()))
    return turn


def test_a_transaction_holds_the_turn_until_it_commits_or_rolls_back(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'turns.db'}") as store:
        turn = _turn(store)
        with store.sessions.begin() as session:
            session.execute(select(MemberPrefRow))
            held_in_a_write = turn.locked()
        after_commit = turn.locked()

        def half_way() -> None:
            with store.sessions.begin() as session:
                session.execute(select(MemberPrefRow))
                raise ValueError("half-way")

        with pytest.raises(ValueError, match="half-way"):
            half_way()
        after_rollback = turn.locked()
        with store.sessions() as session:  # a read, closed without a commit
            session.execute(select(MemberPrefRow))
            held_in_a_read = turn.locked()
        after_close = turn.locked()
    assert (held_in_a_write, held_in_a_read) == (True, True)
    assert (after_commit, after_rollback, after_close) == (False, False, False)


def test_a_transaction_in_another_thread_gets_the_turn_once_the_first_ends(
    tmp_path: Path,
) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'turns.db'}") as store:
        done = threading.Event()

        def second() -> None:
            store.prefs.set_opt_out("replay", "c", "ana", now=NOW)
            done.set()

        with store.sessions.begin() as session:
            session.execute(select(MemberPrefRow))
            other = threading.Thread(target=second)
            other.start()
            finished_meanwhile = done.is_set()
        other.join(timeout=30)
        opted_out = store.prefs.is_opted_out("replay", "c", "ana")
    assert not finished_meanwhile
    assert done.is_set()
    assert opted_out


def test_the_job_store_reads_while_a_write_transaction_is_open(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'turns.db'}") as store:
        jobs = store.jobs_engine
        with store.sessions.begin() as session:
            session.execute(select(MemberPrefRow))
            # Same thread, the writer's turn held: a read through the store's own engine would
            # wait for it (for the busy timeout); the job store's does not take it.
            with jobs.connect() as connection:
                tables = connection.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
        assert jobs is not store.engine
        assert store.jobs_engine is jobs  # made once
    assert (tables or 0) > 0


def test_the_job_store_takes_the_turn_only_to_write(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'turns.db'}") as store:
        turn = _turn(store)
        with store.jobs_engine.begin() as connection:
            connection.execute(text("SELECT count(*) FROM sqlite_master"))
            held_to_read = turn.locked()
            connection.execute(text("CREATE TABLE scratch (x INTEGER)"))
            connection.execute(text("INSERT INTO scratch VALUES (1)"))
            held_to_write = turn.locked()
        after = turn.locked()
        with store.engine.connect() as connection:
            written = connection.execute(text("SELECT x FROM scratch")).scalar()
    assert (held_to_read, held_to_write, after) == (False, True, False)
    assert written == 1


def test_an_in_memory_database_keeps_one_engine_for_the_jobs() -> None:
    with Store.open("sqlite://") as store:
        assert store.jobs_engine is store.engine  # another engine would be another database


async def test_batches_scored_while_the_judge_was_busy_are_judged_in_one_commit(
    tmp_path: Path,
) -> None:
    runtime = await _runtime(tmp_path)
    chat = _chat(40)
    first, second = chat[:20], chat[20:]
    commits: list[int] = []
    event.listen(runtime.store.engine, "commit", lambda _connection: commits.append(1))
    try:
        async with runtime._engine_lock:  # the judge busy: it waits for the lock
            calls = [asyncio.ensure_future(runtime.on_event(e)) for e in first]
            # The judge took the first scored batch and waits for the lock; the next two are
            # scored and wait in the queue behind it.
            # (The judge waits for the lock: it holds the first batch.)
            await eventually(lambda: bool(runtime._engine_lock._waiters), within=30,
                             what="the first batch at the judge")  # fmt: skip
            calls += [asyncio.ensure_future(runtime.on_event(e)) for e in second[:10]]
            await eventually(lambda: runtime._scored.qsize() == 1, within=30, what="a second")
            calls += [asyncio.ensure_future(runtime.on_event(e)) for e in second[10:]]
            await eventually(lambda: runtime._scored.qsize() == 2, within=30, what="a third")
        await asyncio.gather(*calls)
        committed = len(commits)
        journaled = [getattr(row.entry, "id", "") for row in runtime.store.journal.since(0)]
    finally:
        await _close(runtime)
    assert journaled == [getattr(e, "id", "") for e in first + second]  # in arrival order
    assert committed == 2  # the first batch, then the two scored meanwhile, together


async def test_the_service_changes_the_interpreter_only_while_it_runs(tmp_path: Path) -> None:
    service = build_service(service_config(tmp_path))
    before, thresholds = sys.getswitchinterval(), gc.get_threshold()
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    await eventually(lambda: gc.get_freeze_count() > 0, within=60, what="start-up frozen")
    interval_while_running, thresholds_while_running = sys.getswitchinterval(), gc.get_threshold()
    stop.set()
    await running
    assert interval_while_running < before
    assert thresholds_while_running[0] > thresholds[0]  # young objects collected less often
    assert thresholds_while_running[1:] == thresholds[1:]
    assert gc.get_freeze_count() == 0
    assert (sys.getswitchinterval(), gc.get_threshold()) == (before, thresholds)


def test_the_journals_look_up_of_a_batch_reads_while_another_transaction_writes(
    tmp_path: Path,
) -> None:
    # The digests' look-up is a read: it takes no turn, and sees only what was committed.
    with Store.open(f"sqlite:///{tmp_path / 'turns.db'}") as store:
        committed = message("ana", "stored before", NOW, id="m1")
        store.journal.append([(1, committed, None)])
        rows = journal_rows([(2, committed, None), (3, message("bo", "new", NOW, id="m2"), None)])
        turn = _turn(store)
        answers: list[list[bool]] = []
        with store.sessions.begin() as writing:
            writing.execute(select(MemberPrefRow))
            assert turn.locked()
            looking = threading.Thread(target=lambda: answers.append(store.journal.fresh(rows)))
            looking.start()
            looking.join(timeout=5)
            during_the_write = list(answers)
            seen_turn_free_meanwhile = not looking.is_alive()
        looking.join()
    assert seen_turn_free_meanwhile
    assert during_the_write == [[False, True]]
