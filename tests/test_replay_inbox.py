"""The replay platform's inbox, followed as ``tail -F`` does: nothing valid is lost at intake."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.replay.live import FilePlatform
from adapters.replay.reader import read_events
from bot.core.events import Event, MessagePosted
from bot.runtime.app import build_service
from tests.runtime_support import DEMO, service_config
from tests.waiting import eventually


def _line(message_id: str, text: str = "a plain remark") -> str:
    return json.dumps({"type": "message", "id": message_id, "ts": "2026-03-02T10:00:00+00:00",
                       "community": "c", "channel": "general", "author": "ana", "text": text}) + "\n"  # fmt: skip


async def _until(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    await eventually(condition, within=seconds, what=what)  # fails naming what did not happen


class _Inbox:
    """A FilePlatform following ``inbox.jsonl`` in ``folder``, and the ids it handed over."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "inbox.jsonl"
        self.platform = FilePlatform(self.path, folder / "actions.jsonl")
        self.seen: list[str] = []

    async def sink(self, event: Event) -> None:
        assert isinstance(event, MessagePosted)
        self.seen.append(event.id)

    def append(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)


def _events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


async def test_a_partial_last_line_waits_and_a_valid_line_after_a_fragment_is_kept(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    inbox = _Inbox(tmp_path)
    inbox.path.write_text(_line("m1"))
    await inbox.platform.start(inbox.sink)
    try:
        await _until(lambda: inbox.seen == ["m1"], "the first line read")
        inbox.append(_line("m2")[:30])  # a writer stopped half-way through line 2
        inbox.append(_line("m3"))  # the next writer appends a whole line after the fragment
        await _until(lambda: inbox.seen == ["m1", "m3"], "the line after the fragment read")
        inbox.append(_line("m4")[:40])
        await asyncio.sleep(0)
        assert inbox.seen == ["m1", "m3"]  # m4 waits for its newline
        inbox.append(_line("m4")[40:])
        await _until(lambda: inbox.seen == ["m1", "m3", "m4"], "the completed line read")
    finally:
        await inbox.platform.stop()
    repaired = _events(caplog_structlog, "inbox_line_repaired")
    assert [entry["line"] for entry in repaired] == [2]
    assert "fragment" in repaired[0]["problem"]


async def test_a_bad_line_is_reported_with_its_line_number(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    inbox = _Inbox(tmp_path)
    inbox.path.write_text(_line("m1") + "not json at all\n" + _line("m3"))
    await inbox.platform.start(inbox.sink)
    try:
        await _until(lambda: inbox.seen == ["m1", "m3"], "the good lines read")
    finally:
        await inbox.platform.stop()
    skipped = _events(caplog_structlog, "inbox_line_skipped")
    assert [(entry["line"], entry["inbox"]) for entry in skipped] == [(2, str(inbox.path))]


def test_reading_a_file_keeps_the_event_after_a_fragment(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text(_line("m1")[:25] + _line("m2") + "{\n")
    read = list(read_events(path))
    assert [getattr(item, "id", None) for item in read] == [None, "m2", None]
    assert [getattr(item, "line", None) for item in read] == [1, None, 2]


async def test_a_truncated_inbox_is_read_again_from_its_start(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    inbox = _Inbox(tmp_path)
    inbox.path.write_text(_line("m1") + _line("m2") + _line("m3"))
    await inbox.platform.start(inbox.sink)
    try:
        await _until(lambda: len(inbox.seen) == 3, "the first file read")
        with inbox.path.open("w", encoding="utf-8") as handle:  # truncated in place
            handle.write(_line("n1"))
        await _until(lambda: inbox.seen[3:] == ["n1"], "the shorter file read")
    finally:
        await inbox.platform.stop()
    assert len(_events(caplog_structlog, "inbox_truncated")) == 1


async def test_a_replaced_inbox_is_followed_like_tail_dash_capital_f(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    inbox = _Inbox(tmp_path)
    inbox.path.write_text(_line("m1") + _line("m2") + _line("m3"))
    await inbox.platform.start(inbox.sink)
    try:
        await _until(lambda: len(inbox.seen) == 3, "the first file read")
        inbox.append(_line("m4"))
        rotated = tmp_path / "inbox.jsonl.1"
        os.replace(inbox.path, rotated)  # rotation: what the old file still held is read too
        (tmp_path / "new.jsonl").write_text(_line("n1"))
        os.replace(tmp_path / "new.jsonl", inbox.path)
        await _until(lambda: inbox.seen[3:] == ["m4", "n1"], "the old tail and the new file read")
        inbox.append(_line("n2"))
        await _until(lambda: inbox.seen[5:] == ["n2"], "the new file followed")
    finally:
        await inbox.platform.stop()
    assert len(_events(caplog_structlog, "inbox_replaced")) == 1


async def test_a_restart_after_the_inbox_was_replaced_reads_the_new_file(tmp_path: Path) -> None:
    first = _Inbox(tmp_path)
    first.path.write_text(_line("m1") + _line("m2") + _line("m3"))
    await first.platform.start(first.sink)
    try:
        await _until(lambda: len(first.seen) == 3, "the first file read")
    finally:
        await first.platform.stop()
    (tmp_path / "new.jsonl").write_text(_line("n1") + "\n" * 200)  # longer than the old one
    os.replace(tmp_path / "new.jsonl", first.path)
    second = _Inbox(tmp_path)
    await second.platform.start(second.sink)
    try:
        await _until(lambda: second.seen == ["n1"], "the new file read from its start")
    finally:
        await second.platform.stop()


async def test_events_older_than_the_outbox_expiry_are_said_once_per_batch_and_counted(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    service = build_service(service_config(tmp_path))
    runtime = service.runtime
    inbox = tmp_path / "inbox.jsonl"
    demo = (DEMO / "01_pile_on_clinician.jsonl").read_text()  # dated months ago
    inbox.write_text(demo)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    try:
        await _until(lambda: bool(_events(caplog_structlog, "events_too_old_to_act_on")),
                     "the old events noticed", 60)  # fmt: skip
    finally:
        stop.set()
        await running
    said = _events(caplog_structlog, "events_too_old_to_act_on")
    assert len(said) == 1  # one batch, one line
    assert said[0]["log_level"] == "info"
    assert said[0]["count"] == demo.count("\n")
    assert "expire_minutes" in said[0]["hint"]
    assert "longform replay" in said[0]["hint"]
    counted = runtime.metrics.registry.get_sample_value("longform_events_too_old_total")
    assert counted == demo.count("\n")
