"""Reading recorded conversations (JSONL, one event per line) into core events.

A bad line is reported with its line number and skipped; the rest still runs. A line that begins
with the fragment of a line cut short still gives the whole event that follows the fragment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.events import Event, MemberJoined, MessageDeleted, MessageEdited, MessagePosted

_REQUIRED = {
    "message": ("id", "ts", "community", "channel", "author", "text"),
    "edit": ("id", "ts", "text"),
    "delete": ("id", "ts"),
    "join": ("ts", "community", "user"),
}


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be read, and why."""

    path: str
    line: int
    problem: str


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("'ts' must be an ISO 8601 string")
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError(f"'ts' {value!r} has no time zone (add +00:00 or Z)")
    return at


def parse_event(record: Any) -> Event:
    """One JSON object as a core event; ValueError names what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("a line must be a JSON object")
    kind = record.get("type")
    if kind not in _REQUIRED:
        raise ValueError(f"unknown type {kind!r}; expected one of {', '.join(_REQUIRED)}")
    missing = [key for key in _REQUIRED[kind] if key not in record]
    if missing:
        raise ValueError(f"{kind} is missing {', '.join(repr(k) for k in missing)}")
    at = _timestamp(record["ts"])
    if kind == "message":
        mentions = record.get("mentions") or []
        if not isinstance(mentions, list):
            raise ValueError("'mentions' must be a list of user ids")
        return MessagePosted(
            id=str(record["id"]), at=at, community=str(record["community"]),
            channel=str(record["channel"]), author=str(record["author"]),
            text=str(record["text"]), thread=str(record.get("thread") or ""),
            reply_to=str(record["reply_to"]) if record.get("reply_to") else None,
            mentions=tuple(str(m) for m in mentions),
            author_roles=frozenset(str(r) for r in record.get("roles") or ()),
        )  # fmt: skip
    if kind == "edit":
        return MessageEdited(id=str(record["id"]), at=at, text=str(record["text"]))
    if kind == "delete":
        return MessageDeleted(id=str(record["id"]), at=at)
    return MemberJoined(at=at, community=str(record["community"]), user=str(record["user"]))


def parse_line(raw: bytes) -> tuple[Event | None, str | None]:
    """One line as an event, and what was wrong with it (None if nothing).

    A line that starts with a fragment (a line cut short, e.g. by a writer that crashed, to
    which the next whole line was then appended) gives the event after the fragment, and a
    problem naming the fragment: a valid event is never lost to the garbage before it.
    """
    try:
        return parse_event(json.loads(raw.decode("utf-8"))), None
    except UnicodeDecodeError:
        problem = "not valid UTF-8"
    except (ValueError, TypeError) as error:
        problem = str(error)
    recovered = _after_fragment(raw.decode("utf-8", "replace"))
    if recovered is None:
        return None, problem
    return recovered, (f"the line starts with a fragment of another ({problem}); the fragment "
                       "was skipped and the event after it read")  # fmt: skip


# A line is searched for a whole event after a fragment at most this many times (a long line of
# braces must not cost quadratic time).
_MAX_FRAGMENT_TRIES = 64


def _after_fragment(text: str) -> Event | None:
    start = 0
    for _ in range(_MAX_FRAGMENT_TRIES):
        start = text.find('{"', start + 1)
        if start < 0:
            return None
        try:
            return parse_event(json.loads(text[start:]))
        except (ValueError, TypeError):
            continue
    return None


def read_events(path: Path) -> Iterator[Event | BadLine]:
    """Events of one file, in file order, with a BadLine in place of each unreadable line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            event, problem = parse_line(raw)
            if problem is not None:
                yield BadLine(str(path), number, problem)
            if event is not None:
                yield event
