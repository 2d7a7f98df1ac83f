"""What the engine remembers of each message, and its compact form in a snapshot.

Why a form of its own: the remembered messages are most of a snapshot (100,000 of them at the
default cap), and the generic tagged form (``bot.core.snapshot.to_plain``) spends about 2 KiB of
Python objects and 470 bytes of JSON on each, rebuilding the same conversation key and score
names every time. Here they are rows of a table instead: each conversation key and each set of
score names is written once and referred to by its index, times as ISO strings (zone kept).
Decoding gives back equal ``_Seen`` values in the same order, so a restored engine decides the
same; snapshots written before this form (tagged objects) still restore through ``from_plain``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.events import ConversationKey
from bot.core.scoring import Scores

TAG = "$seen"


@dataclass(slots=True)
class _Seen:
    """What the engine remembers of a message: never its text."""

    conversation: ConversationKey
    author: str
    at: datetime
    pressed: tuple[str, ...]
    attack: float
    hostility: float
    scores: Scores


def encode(messages: Mapping[str, _Seen]) -> dict[str, Any]:
    """``messages`` (id -> what is remembered) as one tagged table of plain rows."""
    places: dict[ConversationKey, int] = {}
    names: dict[tuple[str, ...], int] = {}
    rows = []
    for message_id, seen in messages.items():
        place = places.setdefault(seen.conversation, len(places))
        keys = tuple(seen.scores)
        score_names = names.setdefault(keys, len(names))
        rows.append([message_id, place, seen.author, seen.at.isoformat(), list(seen.pressed),
                     seen.attack, seen.hostility, score_names, list(seen.scores.values())])  # fmt: skip
    return {
        TAG: 1,
        "conversations": [[key.community, key.channel, key.thread] for key in places],
        "score_names": [list(keys) for keys in names],
        "rows": rows,
    }


def decode(data: Mapping[str, Any]) -> OrderedDict[str, _Seen]:
    """The messages ``encode`` was given; raises KeyError, TypeError or ValueError if damaged."""
    if data[TAG] != 1:
        raise ValueError(f"remembered messages in layout {data[TAG]!r}, expected 1")
    places = [ConversationKey(str(c), str(ch), str(t)) for c, ch, t in data["conversations"]]
    names = [tuple(str(name) for name in keys) for keys in data["score_names"]]
    made: OrderedDict[str, _Seen] = OrderedDict()
    for row in data["rows"]:
        message_id, place, author, at, pressed, attack, hostile, score_names, values = row
        keys = names[score_names]
        if len(keys) != len(values):
            raise ValueError(f"message {message_id!r}: {len(values)} scores, {len(keys)} names")
        made[str(message_id)] = _Seen(
            places[place], str(author), datetime.fromisoformat(at), tuple(pressed),
            float(attack), float(hostile), dict(zip(keys, map(float, values), strict=True)),
        )  # fmt: skip
    return made
