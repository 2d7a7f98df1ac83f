"""A platform made of two files, for dry runs and for testing the service end to end.

Events are read from an inbox (JSONL in the replay format, followed as lines are appended, like
``tail -f``); community ids get the ``replay:`` prefix. Every executed decision is appended to an
actions file as one JSON line with its idempotency key; a key already written is not written again,
so a retry after a crash never doubles a line. The inbox position is saved after each event has
been judged, so a restart neither skips nor re-reads events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from pathlib import Path

import structlog

from adapters.replay.reader import parse_event
from adapters.replay.runner import action_record
from bot.core.decisions import Decision
from bot.core.events import MemberJoined, MessagePosted
from bot.runtime.platform import ActionResult, EventSink, community_key

log = structlog.get_logger()
_POLL = 0.05  # seconds between looks at the inbox when following it


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
        self._actions.parent.mkdir(parents=True, exist_ok=True)
        if self._actions.exists():
            for line in self._actions.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    self._written.add(json.loads(line)["key"])
        self._reader = asyncio.create_task(self._read(sink), name="longform-file-inbox")

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
        position = self._saved_position()
        while True:
            if not self._inbox.exists():
                await asyncio.sleep(_POLL)
                continue
            with self._inbox.open("rb") as handle:
                handle.seek(position)
                for raw in iter(handle.readline, b""):
                    if not raw.endswith(b"\n"):
                        break  # a line still being written: read it whole next time
                    await self._hand_over(raw, sink)
                    position = handle.tell()
                    self._position_file.write_text(str(position))
            if not self._follow:
                self.finished.set()
                return
            await asyncio.sleep(_POLL)

    async def _hand_over(self, raw: bytes, sink: EventSink) -> None:
        if not raw.strip():
            return
        try:
            event = parse_event(json.loads(raw.decode("utf-8")))
        except (ValueError, TypeError, UnicodeDecodeError) as error:
            log.warning("inbox_line_skipped", problem=str(error))
            return
        if isinstance(event, MessagePosted | MemberJoined):
            event = replace(event, community=community_key(self.platform, event.community))
        await sink(event)

    def _saved_position(self) -> int:
        try:
            return int(self._position_file.read_text())
        except (FileNotFoundError, ValueError):
            return 0
