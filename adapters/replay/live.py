"""A platform made of two files, for dry runs and for testing the service end to end.

Events are read from an inbox (JSONL in the replay format), followed as ``tail -F`` follows a
file: lines appended are read as they come, a partial last line waits for its newline, and a file
truncated or replaced (rotated) is read again from its start, with a log line saying so. A bad line
is logged with its line number and skipped. Community ids get the ``replay:`` prefix. Every
executed decision is appended to an actions file as one JSON line with its idempotency key; a key
already written is not written again, so a retry after a crash never doubles a line. Only the last
``REMEMBERED`` keys are kept: a key is handed out again only when it was in flight at a crash (a
claimed batch, at most 100 items an executor, recorded every 0.2 s), so only recent keys can
come back; remembering every key ever written grew without bound. The inbox
position (offset, line number and the file's identity) is saved after each batch of events has
been judged (batches are read ahead while earlier ones are judged, and positions saved in order);
after a crash the runtime's journal recognises the events of a batch read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import structlog

from adapters.replay.reader import parse_line
from adapters.replay.runner import action_record
from bot.core.decisions import Decision
from bot.core.events import Event, MemberJoined, MessagePosted
from bot.runtime.gateway import CommunityRef
from bot.runtime.platform import ActionResult, EventSink

log = structlog.get_logger()
_POLL = 0.01  # seconds between looks at the inbox when following it (a stat call: cheap)
_BATCH = 200  # lines handed to the service together (and one position save)
_AHEAD = 8  # batches handed over and not yet judged, at most: the service judges while we read
_SAVE_EVERY = 0.2  # seconds between position saves while batches are in hand
REMEMBERED = 100_000  # keys of the latest actions kept against doubles (module docstring: why)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where reading stands: byte offset, lines read, and the file's identity (device, inode)."""

    offset: int = 0
    line: int = 0
    file: tuple[int, int] | None = None


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return (stat.st_dev, stat.st_ino)


class _Recent:
    """The last ``size`` keys added, for membership tests (oldest forgotten first)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: set[str] = set()
        self._order: deque[str] = deque()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str) -> None:
        """Remember ``key``, forgetting the oldest beyond ``size``."""
        if key in self._keys:
            return
        self._keys.add(key)
        self._order.append(key)
        while len(self._order) > self._size:
            self._keys.discard(self._order.popleft())


class FilePlatform:
    """Reads events from ``inbox`` and writes what it is asked to do to ``actions``."""

    platform = "replay"

    def __init__(self, inbox: Path, actions: Path, delay: float = 0.0, follow: bool = True) -> None:
        self._inbox, self._actions, self._delay, self._follow = inbox, actions, delay, follow
        self._position_file = actions.with_name(actions.name + ".inbox-position")
        self._written = _Recent(REMEMBERED)
        self._reader: asyncio.Task[None] | None = None
        self._saved_at = 0.0  # loop time of the last position save
        self._unsaved: Cursor | None = None  # a judged position not saved yet
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
            with self._actions.open(encoding="utf-8") as lines:  # line by line: the last kept
                for line in lines:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
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
        # Batches handed over and not yet judged, with the cursor after each: reading goes on
        # while they are judged (up to _AHEAD of them), and each position is saved once its
        # batch, and every batch before it, is judged.
        handed: deque[tuple[asyncio.Task[None], Cursor]] = deque()
        try:
            while True:
                handle, cursor, draining = self._follow_file(handle, cursor)
                if handle is not None:
                    final = draining or not self._follow
                    lines, after = self._complete_lines(handle, cursor, final)
                    if after != cursor:
                        task = asyncio.ensure_future(self._hand_over(lines, sink))
                        handed.append((task, after))
                        cursor = after
                        await self._saved_judged(handed, _AHEAD)
                        continue
                if not self._follow:
                    await self._saved_judged(handed, 0)
                    self.finished.set()
                    return
                if handed:  # nothing new to read: wait a little for the oldest batch instead
                    await asyncio.wait({handed[0][0]}, timeout=_POLL)
                    await self._saved_judged(handed, _AHEAD)
                    continue
                if self._unsaved is not None:  # all judged: the latest position, now
                    self._save(self._unsaved)
                    self._unsaved = None
                await asyncio.sleep(_POLL)
        finally:
            if handle is not None:
                handle.close()

    async def _saved_judged(
        self, handed: deque[tuple[asyncio.Task[None], Cursor]], ahead: int
    ) -> None:
        """Save the position after the judged batches, oldest first; wait for the oldest while
        more than ``ahead`` are handed over (the back-pressure on reading).

        Saved at most every _SAVE_EVERY seconds while more batches are in hand, and at once when
        none is: a file replaced on every small batch of a trickle would cost more than judging
        it, and a position a moment old only means a few events read again after a crash
        (which the journal recognises).
        """
        judged: Cursor | None = None
        while handed and (handed[0][0].done() or len(handed) > ahead):
            task, judged = handed[0]
            await task
            handed.popleft()
        now = asyncio.get_running_loop().time()
        if judged is not None and (not handed or now - self._saved_at >= _SAVE_EVERY):
            self._save(judged)
            self._saved_at, self._unsaved = now, None
        elif judged is not None:
            self._unsaved = judged

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
                event = replace(event, community=CommunityRef(self.platform, event.community).key)
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
