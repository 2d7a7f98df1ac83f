"""Decisions to JSON and back, exactly, and the idempotency key of a decision.

How it works: every decision kind is a frozen dataclass in ``bot.core.decisions``. The encoder
walks its fields and writes each value by its type (datetimes as ISO 8601, enums as their value,
tuples as lists, ``ConversationKey`` and ``Evidence`` as objects); the decoder reads the field
types from the class annotations and reverses each step. ``KINDS`` names every kind; a test checks
that it covers the whole ``Decision`` union, so a new kind cannot be stored by accident unencoded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from typing import Any, get_type_hints

from bot.core.decisions import (
    AlertModerators,
    Decision,
    Evidence,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptKind,
    PromptMember,
    SetSlowMode,
    Signal,
    UndoActions,
    recipient,
)
from bot.core.events import ConversationKey

FORMAT_VERSION = 1

KINDS: dict[str, type[Decision]] = {
    "post_notice": PostNotice,
    "prompt_member": PromptMember,
    "set_slow_mode": SetSlowMode,
    "lift_slow_mode": LiftSlowMode,
    "open_longform_space": OpenLongformSpace,
    "undo_actions": UndoActions,
    "alert_moderators": AlertModerators,
}
_NAMES = {cls: name for name, cls in KINDS.items()}


class CodecError(ValueError):
    """A payload is not a decision this code can read (unknown kind, missing or bad field)."""


def kind_name(decision: Decision) -> str:
    """The stable name of ``decision``'s kind, e.g. ``"prompt_member"``."""
    return _NAMES[type(decision)]


def encode(decision: Decision) -> dict[str, Any]:
    """A JSON-ready dict for ``decision``; ``decode(encode(d)) == d`` for every decision."""
    # Envelope keys start with "_" so they never clash with a field (PromptMember has a "kind").
    out: dict[str, Any] = {"_v": FORMAT_VERSION, "_kind": kind_name(decision)}
    for f in fields(decision):
        out[f.name] = _encode_value(getattr(decision, f.name))
    return out


def decode(payload: dict[str, Any]) -> Decision:
    """The decision ``payload`` encodes. Raises :class:`CodecError` if it cannot be read."""
    if payload.get("_v") != FORMAT_VERSION:
        raise CodecError(f"unsupported decision format version {payload.get('_v')!r}")
    cls = KINDS.get(payload.get("_kind", ""))
    if cls is None:
        raise CodecError(f"unknown decision kind {payload.get('_kind')!r}")
    values: dict[str, Any] = {}
    for name, decoder in _DECODERS[cls].items():
        if name not in payload:
            raise CodecError(f"{_NAMES[cls]}: missing field {name!r}")
        try:
            values[name] = decoder(payload[name])
        except (TypeError, ValueError, KeyError) as error:
            raise CodecError(f"{_NAMES[cls]}.{name}: {error}") from error
    return cls(**values)


def dumps(decision: Decision) -> str:
    """``encode`` as canonical JSON text (sorted keys, no spaces)."""
    return json.dumps(encode(decision), sort_keys=True, separators=(",", ":"))


def loads(text: str) -> Decision:
    """The decision in JSON ``text`` (the inverse of :func:`dumps`)."""
    return decode(json.loads(text))


def decision_key(decision: Decision, platform: str) -> str:
    """The idempotency key of ``decision`` on ``platform``: 32 hex characters.

    It names *what* is done, *where*, *to whom* and *because of which* message and signal: kind,
    conversation, message id, signal, recipient (and the prompt kind for a prompt). Wording,
    evidence and severity are left out, so re-deciding the same thing, even with grown evidence,
    gives the same key, while a new triggering message gives a new one.
    """
    extra = decision.kind.value if isinstance(decision, PromptMember) else ""
    return key_of(platform, kind_name(decision), decision.conversation, decision.message_id,
                  decision.signal.value, recipient(decision), extra)  # fmt: skip


def key_of(
    platform: str,
    kind: str,
    conv: ConversationKey,
    message_id: str,
    signal: str,
    to: str | None,
    extra: str = "",
) -> str:
    """``decision_key`` from its parts (an outcome record names its decision by them)."""
    parts = [platform, kind, conv.community, conv.channel, conv.thread, message_id, signal, to,
             extra]  # fmt: skip
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _encode_value(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Signal | PromptKind):
        return value.value
    if isinstance(value, ConversationKey):
        return {"community": value.community, "channel": value.channel, "thread": value.thread}
    if isinstance(value, Evidence):
        return {"message_ids": list(value.message_ids), "scores": [list(s) for s in value.scores]}
    if isinstance(value, tuple):
        return [_encode_value(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CodecError(f"cannot encode {type(value).__name__} value {value!r}")


def _conversation(raw: dict[str, str]) -> ConversationKey:
    return ConversationKey(str(raw["community"]), str(raw["channel"]), str(raw["thread"]))


def _evidence(raw: dict[str, Any]) -> Evidence:
    ids = tuple(str(i) for i in raw["message_ids"])
    return Evidence(ids, tuple((str(name), float(value)) for name, value in raw["scores"]))


def _strict(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        # bool is an int in Python; a severity of True is still wrong.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {value!r}")
        return value

    return check


_BY_TYPE: dict[object, Callable[[Any], Any]] = {
    datetime: datetime.fromisoformat,
    Signal: Signal,
    PromptKind: PromptKind,
    ConversationKey: _conversation,
    Evidence: _evidence,
    str: _strict(str),
    int: _strict(int),
    bool: _strict(bool),
    tuple[str, ...]: lambda raw: tuple(_strict(str)(item) for item in raw),
}


def _decoders(cls: type[Decision]) -> dict[str, Callable[[Any], Any]]:
    hints = get_type_hints(cls)
    decoders: dict[str, Callable[[Any], Any]] = {}
    for f in fields(cls):
        decoder = _BY_TYPE.get(hints[f.name])
        if decoder is None:
            raise CodecError(f"{cls.__name__}.{f.name}: no decoder for {hints[f.name]!r}")
        decoders[f.name] = decoder
    return decoders


# Built at import, so a field type without a decoder fails at once, not on first read.
_DECODERS = {cls: _decoders(cls) for cls in KINDS.values()}
