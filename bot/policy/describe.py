"""Every effective value of a policy's settings, by dotted key, with the description beside it."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any


def effective_values(value: Any, prefix: str = "") -> list[tuple[str, str, str]]:
    """``(dotted key, repr of the value, the knob's description)`` for every leaf of the settings
    dataclass ``value``, in declaration order (what `check-policy` and the dashboard show)."""
    found: list[tuple[str, str, str]] = []
    for spec in fields(value):
        current = getattr(value, spec.name)
        key = f"{prefix}{spec.name}"
        if is_dataclass(current) and not isinstance(current, type):
            found.extend(effective_values(current, key + "."))
        else:
            found.append((key, repr(current), spec.metadata.get("doc", "")))
    return found
