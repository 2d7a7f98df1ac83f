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

import json
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.events import ConversationKey
from bot.core.jsontext import array_items
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


def json_chunks(messages: Mapping[str, _Seen], chunk: int) -> Iterator[str]:
    """``messages`` (id -> what is remembered) as one tagged table of rows in JSON text, ``chunk``
    rows to a piece (see bot.core.snapshot.json_chunks); ``decode`` reads its parsed form."""
    table = _Table()
    yield f'{{"{TAG}": 1, "rows": ['
    yield from array_items(messages.items(), chunk, lambda item: table.row(*item))
    yield "], " + json.dumps(table.header())[1:]


class _Table:
    """The conversation keys and score names met so far, each numbered once."""

    def __init__(self) -> None:
        self.places: dict[ConversationKey, int] = {}
        self.names: dict[tuple[str, ...], int] = {}

    def row(self, message_id: str, seen: _Seen) -> list[Any]:
        place = self.places.setdefault(seen.conversation, len(self.places))
        keys = tuple(seen.scores)
        score_names = self.names.setdefault(keys, len(self.names))
        return [message_id, place, seen.author, seen.at.isoformat(), list(seen.pressed),
                seen.attack, seen.hostility, score_names, list(seen.scores.values())]  # fmt: skip

    def header(self) -> dict[str, Any]:
        return {
            "conversations": [[key.community, key.channel, key.thread] for key in self.places],
            "score_names": [list(keys) for keys in self.names],
        }


def decode(data: Mapping[str, Any]) -> OrderedDict[str, _Seen]:
    """The messages ``json_chunks`` was given; raises KeyError, TypeError or ValueError if damaged."""
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
