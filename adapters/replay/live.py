"""A platform made of two files, for dry runs and for testing the service end to end.

Events are read from an inbox (JSONL in the replay format), followed as ``tail -F`` follows a
file: lines appended are read as they come, a partial last line waits for its newline, and a file
truncated or replaced (rotated) is read again from its start, with a log line saying so. A bad line
is logged with its line number and skipped. Community ids get the ``replay:`` prefix. Every
executed decision is appended to an actions file as one JSON line with its idempotency key; a key
already written is not written again, so a retry after a crash never doubles a line. The inbox
position (offset, line number and the file's identity) is saved after each batch of events has
been judged; after a crash the runtime's journal recognises the events of a batch read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import structlog

from adapters.replay.reader import parse_line
from adapters.replay.runner import action_record
from bot.core.decisions import Decision
from bot.core.events import Event, MemberJoined, MessagePosted
from bot.runtime.platform import ActionResult, EventSink, community_key

log = structlog.get_logger()
_POLL = 0.05  # seconds between looks at the inbox when following it
_BATCH = 200  # lines handed to the service together (judged as one batch, one position save)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where reading stands: byte offset, lines read, and the file's identity (device, inode)."""

    offset: int = 0
    line: int = 0
    file: tuple[int, int] | None = None


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return (stat.st_dev, stat.st_ino)


class FilePlatform:
    """Reads events from ``inbox`` and writes what it is asked to do to ``actions``."""

    platform = "replay"

    def __init__(self, inbox: Path, actions: Path, delay: float = 0.0, follow: bool = True) -> None:
        self._inbox, self._actions, self._delay, self._follow = inbox, actions, delay, follow
        self._position_file = actions.with_name(actions.name + ".inbox-position")
        self._written: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()  # set when a non-following reader reaches the end

    async def start(self, sink: EventSink, control: object = None) -> None:
        """Remember what was already done, then follow the inbox in the background."""
        self.open_actions()
        self._reader = asyncio.create_task(self._read(sink), name="longform-file-inbox")

    def open_actions(self) -> None:
        """Remember what was already done, to execute without reading the inbox (a process
        that executes while another ingests: [distributed] roles)."""
        self._actions.parent.mkdir(parents=True, exist_ok=True)
        if self._actions.exists():
            for line in self._actions.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    self._written.add(json.loads(line)["key"])

    async def stop(self) -> None:
        """Stop reading; the position of the last judged event is already saved."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Append the decision to the actions file, once per key."""
        if self._delay:
            await asyncio.sleep(self._delay)  # stands in for a platform's round trip
        if key in self._written:
            return ActionResult.sent("already written")
        record = {"key": key, **action_record(decision)}
        with self._actions.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
        self._written.add(key)
        return ActionResult.sent(reference=key)

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        """Append the digest as a line of its own."""
        with self._actions.open("a", encoding="utf-8") as handle:
            handle.write(
                json.dumps({"type": "digest", "community": community, "text": text}) + "\n"
            )
        return ActionResult.sent()

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        """Append the reminder as a line of its own."""
        with self._actions.open("a", encoding="utf-8") as handle:
            record = {"type": "reminder", "community": community, "space": reference, "text": text}
            handle.write(json.dumps(record) + "\n")
        return ActionResult.sent()

    async def _read(self, sink: EventSink) -> None:
        cursor = self._saved_cursor()
        handle: BinaryIO | None = None
        try:
            while True:
                handle, cursor, draining = self._follow_file(handle, cursor)
                if handle is not None:
                    final = draining or not self._follow
                    lines, after = self._complete_lines(handle, cursor, final)
                    if after != cursor:
                        await self._hand_over(lines, sink)
                        cursor = after
                        self._save(cursor)
                        continue
                if not self._follow:
                    self.finished.set()
                    return
                await asyncio.sleep(_POLL)
        finally:
            if handle is not None:
                handle.close()

    def _follow_file(
        self, handle: BinaryIO | None, cursor: Cursor
    ) -> tuple[BinaryIO | None, Cursor, bool]:
        """``tail -F``: the handle to read from now, the cursor in it, and whether that file was
        replaced (then its last line is read even without a newline: no more will come)."""
        try:
            stat = self._inbox.stat()
        except FileNotFoundError:
            return handle, cursor, False  # moved away: finish the old file; wait for a new one
        if handle is not None and _identity(os.fstat(handle.fileno())) != _identity(stat):
            lines, _ = self._complete_lines(handle, cursor, final=True)
            if lines:  # what the old file still held is judged before the new one is read
                return handle, cursor, True
            handle.close()
            handle = None
            log.info("inbox_replaced", inbox=str(self._inbox), lines_read=cursor.line,
                     hint="a new file took the inbox's name; reading it from its start")  # fmt: skip
            cursor = Cursor(file=_identity(stat))
        if handle is None:
            handle = self._inbox.open("rb")
            identity = _identity(os.fstat(handle.fileno()))
            if cursor.file is not None and cursor.file != identity:
                log.info("inbox_replaced", inbox=str(self._inbox), lines_read=cursor.line,
                         hint="the inbox is another file than when last read; reading it from "
                              "its start")  # fmt: skip
                cursor = Cursor()
            cursor = replace(cursor, file=identity)
        if stat.st_size < cursor.offset:
            log.info("inbox_truncated", inbox=str(self._inbox), size=stat.st_size,
                     offset=cursor.offset, hint="the inbox got shorter; reading it from its start")  # fmt: skip
            cursor = Cursor(file=cursor.file)
        return handle, cursor, False

    def _complete_lines(
        self, handle: BinaryIO, cursor: Cursor, final: bool
    ) -> tuple[list[tuple[int, bytes]], Cursor]:
        """Up to a batch of whole lines from ``cursor`` (numbered), and the cursor after them.

        A last line without its newline is left for later, unless ``final`` (the file is done).
        """
        handle.seek(cursor.offset)
        lines: list[tuple[int, bytes]] = []
        offset, number = cursor.offset, cursor.line
        while len(lines) < _BATCH:
            raw = handle.readline()
            if not raw or (not raw.endswith(b"\n") and not final):
                break  # nothing more, or a line still being written: read it whole next time
            offset, number = offset + len(raw), number + 1
            lines.append((number, raw))
        return lines, replace(cursor, offset=offset, line=number)

    async def _hand_over(self, lines: list[tuple[int, bytes]], sink: EventSink) -> None:
        events: list[Event] = []
        for number, raw in lines:
            if not raw.strip():
                continue
            event, problem = parse_line(raw)
            if problem is not None:
                log.warning("inbox_line_skipped" if event is None else "inbox_line_repaired",
                            inbox=str(self._inbox), line=number, problem=problem)  # fmt: skip
            if event is None:
                continue
            if isinstance(event, MessagePosted | MemberJoined):
                event = replace(event, community=community_key(self.platform, event.community))
            events.append(event)
        # All at once: the service judges them in this order, as one batch.
        await asyncio.gather(*(sink(event) for event in events))

    def _save(self, cursor: Cursor) -> None:
        saved = {"offset": cursor.offset, "line": cursor.line,
                 "file": list(cursor.file) if cursor.file else None}  # fmt: skip
        temporary = self._position_file.with_name(self._position_file.name + ".tmp")
        temporary.write_text(json.dumps(saved))
        temporary.replace(self._position_file)  # whole or not at all, even on a crash

    def _saved_cursor(self) -> Cursor:
        try:
            saved = json.loads(self._position_file.read_text())
        except (FileNotFoundError, ValueError):
            return Cursor()
        if isinstance(saved, int):  # an older Longform saved the offset alone
            return Cursor(offset=saved, line=self._lines_before(saved))
        file = saved.get("file")
        return Cursor(int(saved.get("offset", 0)), int(saved.get("line", 0)),
                      (int(file[0]), int(file[1])) if file else None)  # fmt: skip

    def _lines_before(self, offset: int) -> int:
        with contextlib.suppress(FileNotFoundError), self._inbox.open("rb") as handle:
            return handle.read(offset).count(b"\n")
        return 0
