"""JSON a caller has already written as text, stored as it is in a JSON column.

Why: an engine snapshot is written as JSON text a slice at a time (bot.core.snapshot) so that it
never exists whole as Python objects; handing the store a dict again would undo that. Every engine
this package creates serialises JSON columns with ``serialise``, which passes such text through
and encodes anything else as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EncodedJSON:
    """One JSON document's text, e.g. ``EncodedJSON('{"a": 1}')``; not checked here."""

    text: str


def serialise(value: object) -> str:
    """The JSON column's text for ``value``: an :class:`EncodedJSON`'s own text, else JSON."""
    if isinstance(value, EncodedJSON):
        return value.text
    return json.dumps(value)
