"""Malformed or hostile input: huge messages, broken UTF-8, unknown kinds, a flood of events."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.events import MessagePosted
from bot.runtime.app import build_service
from bot.runtime.service import MAX_TEXT
from tests.runtime_support import service_config


@pytest.fixture
async def runtime(tmp_path: Path):  # type: ignore[no-untyped-def]
    service = build_service(service_config(tmp_path, replay={"enabled": False}),
                            extra_adapters={"replay": _Nowhere()})  # type: ignore[dict-item]  # fmt: skip
    await service.runtime.open()
    yield service.runtime
    await service.runtime.close()
    service.runtime.store.close()


class _Nowhere:
    platform = "replay"


def _message(i: int, text: str, at: datetime) -> MessagePosted:
    return MessagePosted(id=f"m{i}", at=at, community="replay:c", channel=f"ch{i % 50}",
                         author=f"u{i % 300}", text=text, thread=f"t{i % 200}",
                         reply_to=f"m{i - 1}" if i else None)  # fmt: skip


async def test_huge_and_broken_messages_are_cut_cleaned_and_logged(
    runtime, caplog_structlog
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    await runtime.on_event(_message(0, "you idiot " * 100_000, now))
    await runtime.on_event(_message(1, "broken \ud800 surrogate, you clown", now))
    logged = runtime.store.messages.get("replay", "m0")
    assert logged is not None
    assert len(logged.text) == MAX_TEXT
    assert "\ud800" not in runtime.store.messages.get("replay", "m1").text
    assert any(e["event"] == "message_cut" and e["length"] == 1_000_000 for e in caplog_structlog)


async def test_a_flood_of_ten_thousand_events_stays_bounded(runtime, caplog_structlog) -> None:  # type: ignore[no-untyped-def]
    start = datetime.now(UTC)
    texts = ["you clearly have no idea", "agreed, good point", "that claim is wrong", "thanks!"]
    events = [_message(i, f"{texts[i % 4]} {i}", start + timedelta(microseconds=100 * i))
              for i in range(10_000)]  # fmt: skip
    tracemalloc.start()
    await asyncio.gather(*(runtime.on_event(event) for event in events))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await runtime.settle()
    assert peak < 400 * 2**20  # all 10,000 judged within a bounded footprint
    sizes = {key: engine.size for key, engine in runtime.engines.items()}
    assert sizes[""]["messages"] == 10_000
    assert any(e["event"] == "event_backlog" for e in caplog_structlog)


def test_unknown_kinds_and_invalid_utf8_in_the_inbox_are_skipped_with_their_line(
    tmp_path: Path,
) -> None:
    from adapters.replay.reader import BadLine, read_events

    inbox = tmp_path / "inbox.jsonl"
    good = {"type": "message", "id": "1", "ts": "2026-01-01T00:00:00+00:00", "community": "c",
            "channel": "x", "author": "a", "text": "hello"}  # fmt: skip
    inbox.write_bytes(json.dumps({"type": "reaction"}).encode() + b"\n" + b"\xff\xfe bad\n"
                      + json.dumps(good).encode() + b"\n")  # fmt: skip
    items = list(read_events(inbox))
    assert [type(i).__name__ for i in items] == ["BadLine", "BadLine", "MessagePosted"]
    assert isinstance(items[0], BadLine)
    assert "unknown type 'reaction'" in items[0].problem
    assert items[1].problem == "not valid UTF-8"  # type: ignore[union-attr]
