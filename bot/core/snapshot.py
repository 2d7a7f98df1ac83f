"""The engine's memory as plain data, so that a restart resumes where the engine stopped.

How it works: ``to_plain`` walks the engine's state objects (windows, heat, cooldowns, slow modes)
and turns them into nested lists, dicts with string keys, strings and numbers that any JSON encoder
can store; ``from_plain`` builds them back. Only the classes named in ``_CLASSES`` can be built, so
a stored snapshot can never make the engine construct anything else. Times keep their zone. A
snapshot carries ``FORMAT``: an engine given a snapshot of another format starts empty instead of
misreading it (the caller is told).

``json_chunks`` writes the same plain data as JSON text a piece at a time, never holding more than
a slice of a large container as plain objects: a snapshot of 100,000 remembered messages once held
~100 MiB of small objects at once, and the allocator kept that high-water mark for good.
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot.core.decisions import PromptKind, Signal
from bot.core.escalation import EscalationDetector, _Exchange, _Recent
from bot.core.events import ConversationKey
from bot.core.forecast import ForecastDetector, _Turn
from bot.core.jsontext import array_items
from bot.core.outcomes import OutcomeTracker, _Venue, _Watch
from bot.core.pile_on import PileOnDetector, _Pressure, _TargetWindow
from bot.core.responses import Responder, _SlowMode
from bot.core.seen import TAG as SEEN_TAG
from bot.core.seen import decode as decode_seen

# 2: conversations carry a forecast; 3: the outcome tracker (2 restores without it); 4: the
# remembered messages as one compact table (bot.core.seen; 2 and 3 restore from tagged objects).
FORMAT = 4
COMPATIBLE = frozenset({2, 3, FORMAT})

Plain = None | bool | int | float | str | list["Plain"] | dict[str, "Plain"]

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (ConversationKey, PileOnDetector, _TargetWindow, _Pressure, EscalationDetector,
                _Recent, _Exchange, Responder, _SlowMode, Signal, PromptKind, ForecastDetector,
                _Turn, OutcomeTracker, _Watch, _Venue)
}  # fmt: skip


class SnapshotError(ValueError):
    """A snapshot that cannot be read back (damaged, or written by another format)."""


def register(*classes: type) -> None:
    """Allow more state classes (the engine registers its own private ones)."""
    _CLASSES.update({cls.__name__: cls for cls in classes})


_SCALARS = frozenset({type(None), bool, int, float, str})
# Field names per dataclass: dataclasses.fields() is slow, and a snapshot asks it per object.
_FIELDS: dict[type, tuple[str, ...]] = {}


def to_plain(value: Any) -> Plain:
    """``value`` as plain data; raises SnapshotError for a type not meant to be stored."""
    if type(value) in _SCALARS:  # the common case first (a str Enum is not exactly str)
        return value  # type: ignore[no-any-return]
    if value is None or (
        isinstance(value, bool | int | float | str) and not isinstance(value, Enum)
    ):
        return value
    if isinstance(value, Enum):
        return {"$enum": type(value).__name__, "value": value.value}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$timedelta": value.total_seconds()}
    if isinstance(value, tuple):
        return {"$tuple": [to_plain(item) for item in value]}
    if isinstance(value, frozenset):
        return {"$frozenset": sorted((to_plain(item) for item in value), key=repr)}
    if isinstance(value, deque):
        return {"$deque": [to_plain(item) for item in value], "maxlen": value.maxlen}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        tag = "$ordered" if isinstance(value, OrderedDict) else "$dict"
        return {tag: [[to_plain(k), to_plain(v)] for k, v in value.items()]}
    return _object_to_plain(value)


def _object_to_plain(value: Any) -> Plain:
    name, attributes = _attributes(value)
    return {"$object": name, "fields": {key: to_plain(item) for key, item in attributes.items()}}


def _attributes(value: Any) -> tuple[str, dict[str, Any]]:
    name = type(value).__name__
    if _CLASSES.get(name) is not type(value):
        raise SnapshotError(f"{name} is not part of the engine's stored state")
    if is_dataclass(value):
        names = _FIELDS.get(type(value))
        if names is None:
            names = _FIELDS[type(value)] = tuple(spec.name for spec in fields(value))
        return name, {name: getattr(value, name) for name in names}
    return name, dict(vars(value))


# Containers with more items than this are written a slice at a time.
CHUNK = 1000


def json_chunks(value: Any, *, chunk: int = CHUNK) -> Iterator[str]:
    """``to_plain(value)`` as JSON text, in pieces whose concatenation ``json.loads`` reads back
    equal; large dicts, lists and deques (and the objects holding them) are made a slice at a
    time, so only a slice of them exists as plain objects at once."""
    if isinstance(value, dict) and len(value) > chunk:
        tag = "$ordered" if isinstance(value, OrderedDict) else "$dict"
        yield f'{{"{tag}": ['
        yield from array_items(value.items(), chunk, lambda pair: [to_plain(p) for p in pair])
        yield "]}"
    elif isinstance(value, list) and len(value) > chunk:
        yield "["
        yield from array_items(value, chunk, to_plain)
        yield "]"
    elif isinstance(value, deque) and len(value) > chunk:
        yield '{"$deque": ['
        yield from array_items(value, chunk, to_plain)
        yield f'], "maxlen": {json.dumps(value.maxlen)}}}'
    elif type(value) in _SCALARS or isinstance(value, Enum | datetime | timedelta | tuple
                                                         | frozenset | list | dict | deque):  # fmt: skip
        yield json.dumps(to_plain(value))
    else:  # one of the engine's state objects: its fields one by one
        name, attributes = _attributes(value)
        yield f'{{"$object": {json.dumps(name)}, "fields": {{'
        for index, (key, item) in enumerate(attributes.items()):
            yield f"{', ' if index else ''}{json.dumps(key)}: "
            yield from json_chunks(item, chunk=chunk)
        yield "}}"


def from_plain(data: Plain) -> Any:
    """The value ``to_plain`` was given; raises SnapshotError on anything it did not write."""
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [from_plain(item) for item in data]
    try:
        return _tagged(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise SnapshotError(f"damaged snapshot near {str(data)[:80]!r}: {error}") from error


def _tagged(data: dict[str, Any]) -> Any:
    if SEEN_TAG in data:
        return decode_seen(data)
    if "$datetime" in data:
        return datetime.fromisoformat(str(data["$datetime"]))
    if "$timedelta" in data:
        return timedelta(seconds=float(data["$timedelta"]))
    if "$enum" in data:
        return _class(data["$enum"])(data["value"])
    if "$tuple" in data:
        return tuple(from_plain(data["$tuple"]))
    if "$frozenset" in data:
        return frozenset(from_plain(data["$frozenset"]))
    if "$deque" in data:
        return deque(from_plain(data["$deque"]), maxlen=data["maxlen"])
    if "$ordered" in data or "$dict" in data:
        pairs = data["$ordered"] if "$ordered" in data else data["$dict"]
        made: dict[Any, Any] = OrderedDict() if "$ordered" in data else {}
        for key, value in pairs:
            made[from_plain(key)] = from_plain(value)
        return made
    if "$object" in data:
        cls = _class(data["$object"])
        made = object.__new__(cls)
        for key, value in data["fields"].items():
            object.__setattr__(made, key, from_plain(value))
        upgrade = getattr(made, "_after_restore", None)
        if upgrade is not None:  # state from an older format fills in what it lacked
            upgrade()
        return made
    raise SnapshotError(f"unknown tag in snapshot: {sorted(data)[:3]}")


def _class(name: Plain) -> type:
    cls = _CLASSES.get(str(name))
    if cls is None:
        raise SnapshotError(f"{name} is not part of the engine's stored state")
    return cls
