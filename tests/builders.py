"""Builders for core events, so tests read as conversations."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.core.events import Event, MemberJoined, MessageDeleted, MessageEdited, MessagePosted

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


def mixed_stream(count: int, seed: int = 7) -> list[Event]:
    """Replies, mentions, edits, deletions and joins spread over many threads."""
    from tests.test_engine import DISAGREE, HOSTILE, WARM  # texts the engine tests judge

    rng = random.Random(seed)
    texts = HOSTILE + DISAGREE + WARM
    events: list[Event] = []
    for i in range(count):
        at = T0 + i * MIN / 6
        roll = rng.random()
        if roll < 0.05 and i:
            events.append(MessageEdited(id=f"m{rng.randrange(i)}", at=at, text=rng.choice(HOSTILE)))
        elif roll < 0.08 and i:
            events.append(MessageDeleted(id=f"m{rng.randrange(i)}", at=at))
        elif roll < 0.10:
            events.append(MemberJoined(at=at, community="c", user=f"u{rng.randrange(30)}"))
        else:
            events.append(message(f"u{rng.randrange(30)}", rng.choice(texts), at,
                                  reply_to_author=f"u{rng.randrange(5)}",
                                  thread=f"t{rng.randrange(12)}", id=f"m{i}"))  # fmt: skip
    return events
