"""The journal's sequence numbers and the position a snapshot records, on the real service: every
event and tick gets the next number, batches included; a restart numbers on after the journal; a
snapshot records the last entry the engines dealt with. Replay after a restart starts from there.

Mutation testing (issue 18) found that numbering a batch backwards passed every runtime test.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.events import MessagePosted
from bot.runtime.app import build_service
from bot.storage.journal import Tick
from tests.runtime_support import service_config

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _posted(number: int) -> MessagePosted:
    return MessagePosted(id=f"m{number}", at=NOW + timedelta(seconds=number), community="replay:c",
                         channel="general", thread="t1", author=f"u{number}",
                         text="a plain remark about the dosing table")  # fmt: skip


async def test_events_and_ticks_are_numbered_consecutively_and_a_restart_numbers_on(
    tmp_path: Path,
) -> None:
    first = build_service(service_config(tmp_path))
    first.runtime.clock = lambda: NOW + timedelta(minutes=1)
    await first.runtime.open()
    try:
        # Arriving together, these are judged as one batch.
        await asyncio.gather(*(first.runtime.on_event(_posted(i)) for i in (1, 2, 3)))
        await first.runtime.tick(NOW + timedelta(minutes=1))
        await first.runtime.on_event(_posted(4))
        rows = first.runtime.store.journal.since(0)
        assert [row.seq for row in rows] == [1, 2, 3, 4, 5]
        assert [getattr(row.entry, "id", None) for row in rows] == ["m1", "m2", "m3", None, "m4"]
        assert rows[3].entry == Tick(NOW + timedelta(minutes=1))
        await first.runtime.save_memory()
        saved = first.runtime.store.states.load("engine:")
        assert saved is not None
        assert saved.blob["journal_seq"] == 5  # the snapshot covers everything judged
    finally:
        await first.runtime.close()
        first.runtime.store.close()
    second = build_service(service_config(tmp_path))
    second.runtime.clock = lambda: NOW + timedelta(minutes=2)
    await second.runtime.open()
    try:
        await second.runtime.on_event(_posted(6))
        seqs = [row.seq for row in second.runtime.store.journal.since(5)]
        assert seqs == [6], "a restart reused or skipped journal numbers"
        assert second.runtime.engines[""].size["messages"] == 5  # four restored (once), and m6
    finally:
        await second.runtime.close()
        second.runtime.store.close()


async def test_after_a_quiet_restart_a_crash_still_replays_what_came_since(tmp_path: Path) -> None:
    # Two saves with nothing in between prune the whole journal; the service restarted after
    # that must still number on past the snapshot, or a crash loses what came after the restart.
    first = build_service(service_config(tmp_path))
    first.runtime.clock = lambda: NOW + timedelta(minutes=1)
    await first.runtime.open()
    for number in (1, 2, 3):
        await first.runtime.on_event(_posted(number))
    await first.runtime.save_memory()  # the scheduler's save ...
    await first.runtime.close()  # ... and the shutdown's, which prunes what the first covered
    first.runtime.store.close()
    second = build_service(service_config(tmp_path))
    second.runtime.clock = lambda: NOW + timedelta(minutes=2)
    await second.runtime.open()
    await second.runtime.on_event(_posted(4))
    assert [row.seq for row in second.runtime.store.journal.since(0)] == [4]
    second.runtime.store.close()  # a crash: no shutdown, no save
    third = build_service(service_config(tmp_path))
    third.runtime.clock = lambda: NOW + timedelta(minutes=3)
    await third.runtime.open()
    try:
        assert third.runtime.engines[""].size["messages"] == 4, "m4 was not replayed"
    finally:
        await third.runtime.close()
        third.runtime.store.close()


async def test_a_repeated_event_is_journaled_once_and_judged_once(tmp_path: Path) -> None:
    service = build_service(service_config(tmp_path))
    service.runtime.clock = lambda: NOW + timedelta(minutes=1)
    await service.runtime.open()
    try:
        await asyncio.gather(*(service.runtime.on_event(_posted(i)) for i in (1, 1, 2)))
        await service.runtime.on_event(_posted(2))  # delivered again later
        rows = service.runtime.store.journal.since(0)
        assert [getattr(row.entry, "id", None) for row in rows] == ["m1", "m2"]
        assert service.runtime.engines[""].size["messages"] == 2
    finally:
        await service.runtime.close()
        service.runtime.store.close()
