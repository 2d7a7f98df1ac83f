# ruff: noqa: F811  (the fixtures imported from tests.distributed_support are parameters here)
"""Past one process: ingest, judges and executors through the real NATS JetStream and PostgreSQL.

What must hold: a community always lands in the same partition; an ingest that publishes the same
events again (a restart) does not double them; a partition taken over by another judge resumes
its windows (a pile-on straddling the takeover is still seen); three judges on six partitions, one
killed with SIGKILL mid-stream, execute every decision exactly once and in order per thread.
Skipped, with the reason printed, when no NATS server answers at 127.0.0.1:4222 or no PostgreSQL
is given (LONGFORM_TEST_POSTGRES_URL; scripts/check.sh sets it when one answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import create_engine, select, text

from adapters.replay.reader import parse_line
from adapters.replay.runner import load
from bot.config import Config, ConfigError, load_config
from bot.core.decisions import SetSlowMode
from bot.core.engine import Engine
from bot.core.events import (
    Event,
    LongformOpened,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
)
from bot.distributed import partitioning
from bot.distributed.app import Distributed, build, results_only
from bot.distributed.ingest import Publisher
from bot.distributed.judge import Judge
from bot.distributed.ownership import Ownership
from bot.distributed.stream import DistributedError, connect, ensure_stream
from bot.runtime.app import StartupError
from bot.storage.codec import decision_key
from bot.storage.schema import OutboxRow
from tests.builders import T0
from tests.crash_support import ROOT, synthetic_inbox
from tests.distributed_support import nats_url, postgres_url, spread_inbox, stream_name  # noqa: F401
from tests.waiting import eventually

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo"


def _config(tmp_path: Path, storage: str, stream: str, partitions: int = 6, **more: Any) -> Config:
    path = tmp_path / "config.toml"
    extra = "".join(f"{key} = {value}\n" for key, value in more.items())
    path.write_text(f"""
policy = "strict"
mode = "live"
[storage]
url = "{storage}"
[scoring]
sentence_tier = "off"
[outbox]
expire_minutes = 10000000
[scheduler]
tick_seconds = 3600
[replay]
enabled = true
inbox = "{tmp_path / "inbox.jsonl"}"
actions = "{tmp_path / "actions.jsonl"}"
[distributed]
enabled = true
stream = "{stream}"
partitions = {partitions}
{extra}""")
    return load_config(path)


def _demo(name: str) -> list[Event]:
    events, bad = load([DEMO / f"{name}.jsonl"])
    assert not bad
    return [_prefixed(event) for event in events]


def _prefixed(event: Event) -> Event:
    if isinstance(event, MessagePosted | MemberJoined):
        return replace(event, community=f"replay:{event.community}")
    return event


def _reference_keys(distributed: Distributed, events: list[Event]) -> list[str]:
    """The decisions one engine makes on ``events``, fed in order: their outbox keys."""
    runtime = distributed.runtime
    engine = Engine(runtime.policies[""], runtime.scorer)
    return [decision_key(action, "replay") for event in events
            for action in engine.feed(event).actions]  # fmt: skip


def _outbox_keys(distributed: Distributed) -> set[str]:
    with distributed.runtime.store.sessions() as session:
        return set(session.scalars(select(OutboxRow.id)))


# -- no server needed -------------------------------------------------------------------------


def test_a_community_always_lands_in_the_same_partition() -> None:
    # The documented rule: CRC-32 (the standard one: its check value for "123456789" is
    # 0xCBF43926) modulo the partitions; no per-process salt, unlike Python's hash().
    assert partitioning.partition_of("123456789", 1000) == 0xCBF43926 % 1000 == 262
    assert partitioning.partition_of("discord:112233", 12) == 5
    posted = MessagePosted("m1", T0, "discord:112233", "general", "ana", "hi")
    assert partitioning.partitions_for(posted, 12) == [5]
    # Edits and deletions name no community: every partition gets them.
    assert partitioning.partitions_for(MessageEdited("m1", T0, "hey"), 4) == [0, 1, 2, 3]
    assert partitioning.partitions_for(MessageDeleted("m1", T0), 3) == [0, 1, 2]


def test_the_same_event_has_the_same_message_id_and_another_event_another() -> None:
    posted = MessagePosted("m1", T0, "discord:1", "general", "ana", "hi")
    again = MessagePosted("m1", T0, "discord:1", "general", "ana", "hi")
    assert partitioning.message_id(posted, 0) == partitioning.message_id(again, 0)
    assert partitioning.message_id(posted, 0) != partitioning.message_id(
        replace(posted, text="hi!"), 0
    )
    assert partitioning.decode(partitioning.payload(posted)) == posted


def test_a_judge_partition_beyond_the_partitions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"judge_partitions: \[6\] not below partitions = 6"):
        _config(tmp_path, "sqlite:///x.db", "s", judge_partitions="[1, 6]")


def test_a_judge_on_sqlite_is_refused_with_the_fix(tmp_path: Path) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'longform.db'}", "s")
    with pytest.raises(StartupError, match=r"needs PostgreSQL .* \"postgresql\+psycopg://"):
        build(config, frozenset({"judge"}))


async def test_an_unreachable_nats_server_is_named_with_the_fix() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        DistributedError, match=rf"no NATS server answers at .*:{port}.*nats-server -js"
    ):
        await connect(f"nats://127.0.0.1:{port}")


# -- the real NATS server ---------------------------------------------------------------------


async def test_an_ingest_publishing_again_does_not_double_events(
    tmp_path: Path,
    nats_url: str,
    stream_name: str,
) -> None:
    settings = _config(tmp_path, "sqlite:///x.db", stream_name).distributed
    events = _demo("01_pile_on_clinician")
    for _ in range(2):  # the second publisher stands for an ingest restarted, reading again
        connection = await nats.connect(nats_url)
        js = connection.jetstream()
        await ensure_stream(js, settings)
        publisher = Publisher(js, stream_name, settings.partitions)
        for event in events:
            await publisher.publish(event)
        await connection.close()
    connection = await nats.connect(nats_url)
    info = await connection.jetstream().stream_info(stream_name)
    await connection.close()
    assert info.state.messages == len(events)
    assert publisher.duplicates == len(events)  # the second run's every event was recognised


async def test_a_stream_made_with_other_partitions_is_refused(
    tmp_path: Path,
    nats_url: str,
    stream_name: str,
) -> None:
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await ensure_stream(js, _config(tmp_path, "sqlite:///x.db", stream_name, 6).distributed)
    other = _config(tmp_path, "sqlite:///x.db", stream_name, 8).distributed
    with pytest.raises(
        DistributedError, match=r"made with 6 partitions, not 8; set partitions = 6"
    ):
        await ensure_stream(js, other)
    await connection.close()


def _straddling_split(
    distributed: Distributed, events: list[Event]
) -> tuple[list[Event], list[Event], set[str]]:
    """The first split of ``events`` with decisions that neither side makes alone."""
    whole = set(_reference_keys(distributed, events))
    for cut in range(1, len(events)):
        first, second = events[:cut], events[cut:]
        alone = set(_reference_keys(distributed, first)) | set(_reference_keys(distributed, second))
        if whole - alone:
            return first, second, whole - alone
    return events, [], set()


async def _judge(
    distributed: Distributed, js: Any
) -> tuple[Judge, asyncio.Event, asyncio.Task[None]]:
    runtime, settings = distributed.runtime, distributed.runtime.config.distributed
    judge = Judge(runtime, js, settings, Ownership(runtime.store.engine, settings.stream))
    stop = asyncio.Event()
    return judge, stop, asyncio.create_task(judge.run(stop))


async def _crash(judge: Judge, task: asyncio.Task[None]) -> None:
    """Stop a judge as a crash would: workers cancelled mid-way, its connection dropped."""
    for _, worker_task in judge.workers.values():
        worker_task.cancel()
    for _, worker_task in judge.workers.values():
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker_task
    judge.workers.clear()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await judge.ownership.close()


async def test_a_takeover_resumes_the_partitions_windows(
    tmp_path: Path,
    nats_url: str,
    stream_name: str,
    postgres_url: str,
) -> None:
    config = _config(tmp_path, postgres_url, stream_name, partitions=2, batch=4)
    distributed = build(config, frozenset({"judge"}))
    events = _demo("01_pile_on_clinician")
    expected = _reference_keys(distributed, events)
    assert expected, "the demo pile-on must lead to decisions"
    # Split where some decision needs events from both sides: neither half alone makes it.
    before, after, straddling = _straddling_split(distributed, events)
    assert straddling, "the demo must hold a pile-on that straddles some split"
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await ensure_stream(js, config.distributed)
    publisher = Publisher(js, stream_name, 2)
    store = distributed.runtime.store
    partition = partitioning.partition_of(events[-1].community, 2)  # type: ignore[attr-defined]
    try:
        first, _, first_task = await _judge(distributed, js)
        for event in before:
            await publisher.publish(event)
        published = (await js.stream_info(stream_name)).state.last_seq

        def covered() -> bool:
            with store.sessions() as session:
                from bot.storage.schema import PartitionStateRow

                row = session.get(PartitionStateRow, (stream_name, partition))
                return row is not None and row.stream_seq >= published

        await eventually(covered, within=60, what="the first judge judging the first half")
        assert not _outbox_keys(distributed) & straddling
        await _crash(first, first_task)
        _, stop, second_task = await _judge(distributed, js)
        for event in after:
            await publisher.publish(event)
        await eventually(lambda: set(expected) <= _outbox_keys(distributed), within=60,
                         what="the second judge seeing the pile-on that straddles the takeover")  # fmt: skip
        stop.set()
        await second_task
        assert straddling <= _outbox_keys(distributed)
        assert _outbox_keys(distributed) == set(expected)  # and nothing one engine would not do
    finally:
        await connection.close()
        store.close()


# -- three judges in real processes, one killed -------------------------------------------------


def _start(tmp_path: Path, name: str, *roles: str) -> subprocess.Popen[bytes]:
    role_args = [arg for role in roles for arg in ("--role", role)]
    with (tmp_path / f"{name}.log").open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(tmp_path / "config.toml"),
             *role_args],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        )  # fmt: skip


def _locks_by_process(database: Database, stream: str) -> list[int]:
    """How many partitions each judge process holds now (one count per process)."""
    key = zlib.crc32(stream.encode()) & 0x7FFFFFFF
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND classid = :k AND objsubid = 2 GROUP BY pid")  # fmt: skip
    with database.connect() as connection:
        return sorted(int(n) for n in connection.execute(query, {"k": key}).scalars())


def _count(database: Database, query: str) -> int:
    with database.connect() as connection:
        return int(connection.execute(text(query)).scalar() or 0)


def _reference(lines: list[str], policy: Any, scorer: Any) -> tuple[list[str], dict[str, Any]]:
    """One engine over the inbox: each decision's key in order, and its (thread, event index)."""
    engine = Engine(policy, scorer)
    keys: list[str] = []
    where: dict[str, Any] = {}
    for index, line in enumerate(lines):
        event, _ = parse_line(line.encode())
        assert event is not None
        for action in engine.feed(_prefixed(event)).actions:
            key = decision_key(action, "replay")
            keys.append(key)
            where[key] = (action, index)
    return keys, where


async def test_three_judges_one_killed_mid_stream_execute_every_decision_once_in_order(
    tmp_path: Path,
    nats_url: str,
    stream_name: str,
    postgres_url: str,
) -> None:
    lines = spread_inbox(synthetic_inbox(900, threads=12))
    _config(tmp_path, postgres_url, stream_name, partitions=6, batch=8)  # writes config.toml
    config = load_config(tmp_path / "config.toml")
    distributed = build(config, frozenset({"judge"}))  # migrates the schema; its policy, scorer
    runtime = distributed.runtime
    decided, where = _reference(lines, runtime.policies[""], runtime.scorer)
    runtime.store.close()
    # A slow mode whose end is already past when it comes to be executed expires instead (the
    # outbox's rule): the older rounds' slow modes are decided, and never executed.
    now = datetime.now(UTC)
    expired = {key for key, (action, _) in where.items()
               if isinstance(action, SetSlowMode) and action.until <= now}  # fmt: skip
    expected = [key for key in decided if key not in expired]
    assert len(expected) > 20, "the inbox must lead to decisions to execute"
    database = create_engine(postgres_url)
    judges = [_start(tmp_path, f"judge{n}", "judge") for n in range(3)]
    front = None
    try:
        await eventually(lambda: _locks_by_process(database, stream_name) == [2, 2, 2],
                         within=120, what="three judges owning two partitions each")  # fmt: skip
        (tmp_path / "inbox.jsonl").write_text("".join(lines))
        front = _start(tmp_path, "front", "ingest", "execute")
        posted = sum('"type": "message"' in line for line in lines)
        await eventually(lambda: _count(database, "SELECT count(*) FROM message_log") > posted // 3,
                         within=120, what="a third of the stream judged")  # fmt: skip
        judges[0].send_signal(signal.SIGKILL)  # mid-stream: its partitions' batches in flight
        judges[0].wait(30)
        await eventually(lambda: _locks_by_process(database, stream_name) == [3, 3],
                         within=60, what="the two judges left taking the partitions over")  # fmt: skip

        seen: dict[str, int] = {}

        def finished() -> bool:
            seen["logged"] = _count(database, "SELECT count(*) FROM message_log")
            seen["open"] = _count(database, "SELECT count(*) FROM outbox WHERE state IN "
                                            "('pending', 'in_flight')")  # fmt: skip
            seen["decided"] = _count(database, "SELECT count(*) FROM outbox")
            seen["executed"] = len(_executed(tmp_path))
            return (seen["logged"] == posted and seen["open"] == 0
                    and seen["executed"] >= len(expected))  # fmt: skip

        try:
            await eventually(finished, within=240, every=0.2,
                             what="every event judged and every decision executed")  # fmt: skip
        except AssertionError as error:
            raise AssertionError(f"{error}: of {posted} messages and {len(expected)} "
                                 f"decisions, {seen}") from None  # fmt: skip
        with database.connect() as connection:
            decided_keys = set(connection.execute(text("SELECT id FROM outbox")).scalars())
    finally:
        for process in [*judges, *([front] if front else [])]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*judges, *([front] if front else [])]:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        database.dispose()
    executed = _executed(tmp_path)
    assert decided_keys == set(decided), "decisions in the outbox differ from one engine's"
    assert len(executed) == len(set(executed)), "a decision was executed twice"
    assert sorted(executed) == sorted(expected), "executed decisions differ from one engine's"
    by_thread: dict[Any, list[int]] = {}
    for key in executed:
        action, index = where[key]
        by_thread.setdefault(action.conversation, []).append(index)
    assert len(by_thread) > 3
    for conversation, order in by_thread.items():
        assert order == sorted(order), f"decisions in {conversation} executed out of order"


def _executed(folder: Path) -> list[str]:
    path = folder / "actions.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r["key"] for r in records if r.get("type") == "action"]


def test_a_role_without_the_distributed_table_is_refused_with_the_fix(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "x.db"}"\n[replay]\nenabled = true\n')
    result = CliRunner().invoke(app, ["run", "--config", str(path), "--role", "judge"])
    assert result.exit_code == 2
    assert "--role needs [distributed] enabled = true" in " ".join(result.output.split())


def test_an_unknown_role_is_named(tmp_path: Path) -> None:
    from bot.distributed.app import chosen_roles

    config = _config(tmp_path, "sqlite:///x.db", "s")
    assert chosen_roles(config, ["judge"]) == frozenset({"judge"})
    assert chosen_roles(config) == frozenset({"ingest", "judge", "execute"})
    with pytest.raises(
        StartupError, match=r"--role: unknown role juge; use ingest, judge, execute"
    ):
        chosen_roles(config, ["juge"])


def test_a_judge_that_lost_its_partition_cannot_overwrite_its_successors_memory(
    tmp_path: Path,
) -> None:
    from bot.storage.store import Store

    with Store.open(f"sqlite:///{tmp_path / 'longform.db'}") as store:
        old = store.partitions.claim("s", 3, now=T0)
        assert (old.epoch, old.stream_seq, old.blob) == (1, 0, {})
        assert store.partitions.save("s", 3, old.epoch, 10, {"": {"a": 1}}, now=T0)
        new = store.partitions.claim("s", 3, now=T0)  # another judge takes the partition over
        assert (new.epoch, new.stream_seq, new.blob) == (2, 10, {"": {"a": 1}})
        assert not store.partitions.save("s", 3, old.epoch, 12, {"": {"a": 2}}, now=T0)
        assert (
            store.partitions.claim("s", 3, now=T0).stream_seq == 10
        )  # the old one changed nothing
        assert store.partitions.claim("s", 4, now=T0).epoch == 1  # partitions are apart


async def test_an_execute_only_process_publishes_what_execution_learns_and_nothing_else(
    tmp_path: Path,
    nats_url: str,
    stream_name: str,
) -> None:
    settings = _config(tmp_path, "sqlite:///x.db", stream_name).distributed
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await ensure_stream(js, settings)
    sink = results_only(Publisher(js, stream_name, settings.partitions))
    [message] = [
        _prefixed(e) for e in _demo("01_pile_on_clinician") if isinstance(e, MessagePosted)
    ][:1]
    assert isinstance(message, MessagePosted)
    here = message.conversation
    opened = LongformOpened(T0, here, message.id, replace(here, channel="forum", thread="p1"))
    await sink(message)  # the ingest's to publish: dropped here
    await sink(opened)
    info = await js.stream_info(stream_name)
    await connection.close()
    assert info.state.messages == 1
