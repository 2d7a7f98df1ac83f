"""What the engine decides. Each decision says why (``reason``) and on what (``evidence``).

Decisions are requests to an adapter, never actions in themselves: Longform never bans or deletes,
and a human moderator can undo anything it does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.core.events import Compact, ConversationKey, fields_of

if TYPE_CHECKING:
    from bot.core.outcomes import OutcomeRecord


class Signal(StrEnum):
    """A pattern the detectors recognise."""

    PILE_ON = "pile_on"
    AD_HOMINEM = "ad_hominem"
    ESCALATION = "escalation"
    LONG_EXCHANGE = "long_exchange"
    FORECAST = "forecast"
    # An insult about someone not in the conversation: never a prompt, at most a moderator alert.
    ABSENT_INSULT = "absent_insult"


class PromptKind(StrEnum):
    """Why a member is being prompted privately."""

    PILE_ON_TARGET = "pile_on_target"
    LATE_JOINER = "late_joiner"
    AD_HOMINEM_AUTHOR = "ad_hominem_author"


@dataclass(frozen=True, slots=True)
class Evidence(Compact):
    """The messages a judgement rests on and the scores that moved it."""

    message_ids: tuple[str, ...] = ()
    scores: tuple[tuple[str, float], ...] = ()

    def union(self, other: Evidence) -> Evidence:
        """Both evidences, each message and score once, in a stable order."""
        ids = tuple(dict.fromkeys(self.message_ids + other.message_ids))
        scores = dict(self.scores)
        for name, value in other.scores:
            scores[name] = max(value, scores.get(name, value))
        return Evidence(ids, tuple(sorted(scores.items())))


@dataclass(frozen=True, slots=True)
class Detection(Compact):
    """A signal crossed its detection threshold on ``message_id``."""

    signal: Signal
    message_id: str
    conversation: ConversationKey
    at: datetime
    target: str | None
    score: float
    evidence: Evidence
    cue: str
    explanation: str
    # The words it rests on, as the author wrote them: the rule cue's span, or the words that
    # moved a model's score most; () when nothing in particular (a pile-on, rising heat).
    words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Decision:
    conversation: ConversationKey
    message_id: str
    at: datetime
    signal: Signal
    reason: str
    evidence: Evidence
    severity: int = field(default=1, kw_only=True)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles as class, positional fields and severity (see events.Compact).
        return (_rebuilt, (type(self), fields_of(type(self))(self), self.severity))


@dataclass(frozen=True, slots=True)
class PostNotice(_Decision):
    """Post a short, neutral notice in the conversation. ``offers_longform`` adds the invitation."""

    text: str
    offers_longform: bool = False


@dataclass(frozen=True, slots=True)
class PromptMember(_Decision):
    """Send ``member`` a private, kind prompt (a DM or the platform's nearest equivalent)."""

    member: str
    kind: PromptKind
    text: str


@dataclass(frozen=True, slots=True)
class SetSlowMode(_Decision):
    """Slow the conversation to one message per member every ``seconds`` until ``until``."""

    seconds: int
    until: datetime


@dataclass(frozen=True, slots=True)
class LiftSlowMode(_Decision):
    """Lift a slow mode this engine set earlier (``message_id`` is the message that caused it)."""


@dataclass(frozen=True, slots=True)
class OpenLongformSpace(_Decision):
    """Open a structured long-form space (forum post or topic) for the conversation."""

    title: str
    template: tuple[str, ...]
    participants: tuple[str, ...]
    key_messages: tuple[str, ...]
    text: str
    requested_by: str = ""  # the member or moderator who asked for it; "" when Longform decided


UNDO_WORDS = "Undo Longform's slow mode and notices here."  # what an undo does, as timelines say


@dataclass(frozen=True, slots=True)
class UndoActions(_Decision):
    """Undo what Longform did in the conversation: end its slow mode there (restoring what it
    replaced) and remove its notices. A moderator asked (``by``); ``undone`` is the outbox key of
    the decision whose alert they undid it from, so the audit can say so."""

    undone: str
    by: str


@dataclass(frozen=True, slots=True)
class AlertModerators(_Decision):
    """Tell the human moderators, with the evidence; they decide what happens next."""

    text: str


Decision = (
    PostNotice
    | PromptMember
    | SetSlowMode
    | LiftSlowMode
    | OpenLongformSpace
    | UndoActions
    | AlertModerators
)


def recipient(decision: Decision) -> str | None:
    """Who or where the decision is addressed: a member, a channel or thread, or None (moderators)."""
    if isinstance(decision, PromptMember):
        return decision.member
    if isinstance(decision, AlertModerators | OpenLongformSpace):
        return None
    return decision.conversation.place


def merge(decisions: Iterable[Decision]) -> tuple[Decision, ...]:
    """Merge decisions aimed at the same place and recipient: the most severe wins.

    Moderator alerts merge only within one signal: a pile-on and a personal attack in the same
    thread are two things for moderators to look at, and one alert would hide the other.
    Evidence of the merged-away decisions is kept. Merging is idempotent: merging a merged list, or
    a decision with itself, changes nothing. Order is that of each key's first appearance.
    """
    merged: dict[tuple[type, ConversationKey, str | None, str], Decision] = {}
    for decision in decisions:
        signal = decision.signal.value if isinstance(decision, AlertModerators) else ""
        key = (type(decision), decision.conversation, recipient(decision), signal)
        kept = merged.get(key)
        if kept is None:
            merged[key] = decision
            continue
        winner = decision if decision.severity > kept.severity else kept
        merged[key] = replace(winner, evidence=kept.evidence.union(decision.evidence))
    return tuple(merged.values())


@dataclass(frozen=True, slots=True)
class Decisions(Compact):
    """What one event or tick produced: what was noticed, what to do about it, and the outcomes
    of earlier interventions that this event or tick settled."""

    detections: tuple[Detection, ...] = ()
    actions: tuple[Decision, ...] = ()
    outcomes: tuple[OutcomeRecord, ...] = ()

    def __iter__(self) -> Iterator[Decision]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def __bool__(self) -> bool:
        return bool(self.actions or self.detections or self.outcomes)


def _rebuilt(cls: type[_Decision], positional: tuple[Any, ...], severity: int) -> _Decision:
    """A decision from what ``_Decision.__reduce__`` stored."""
    return cls(*positional, severity=severity)
