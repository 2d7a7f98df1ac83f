"""Builders for core events, so tests read as conversations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.events import MessagePosted

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
_ids = iter(range(1, 10**9))


def message(
    author: str,
    text: str,
    at: datetime = T0,
    *,
    reply_to_author: str | None = None,
    mentions: tuple[str, ...] = (),
    thread: str = "t1",
    id: str | None = None,
) -> MessagePosted:
    return MessagePosted(id=id or f"m{next(_ids)}", at=at, community="c", channel="general",
                         thread=thread, author=author, text=text,
                         reply_to_author=reply_to_author, mentions=mentions)  # fmt: skip
