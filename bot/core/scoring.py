"""The one interface every hostility scorer implements, and how the core reads its output.

A scorer turns a batch of texts into named attributes on a 0..1 scale (``toxicity``, ``insult``,
``identity_attack``, ``threat``, ``profanity``...). Scorers may be slow (Detoxify): the runtime calls
them off the event loop and hands the scores to the engine; the engine calls them only when it is
given none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

Scores = Mapping[str, float]

# Attributes that mean hostility towards someone. Profanity alone is not among them: colleagues swear
# in friendship ("holy shit, that panel was great").
HOSTILE_ATTRIBUTES = ("toxicity", "severe_toxicity", "insult", "identity_attack", "threat")


class Scorer(Protocol):
    """Scores texts into named hostility attributes."""

    @property
    def name(self) -> str:
        """Short name of the scorer, recorded with every decision's evidence."""
        ...

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes every result contains."""
        ...

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One mapping of attribute to score per text, in order. Never raises on odd text."""
        ...


def hostility(scores: Scores) -> float:
    """The strongest hostile attribute in ``scores`` (0 when it has none)."""
    return max((scores.get(name, 0.0) for name in HOSTILE_ATTRIBUTES), default=0.0)
