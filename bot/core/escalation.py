"""Escalation (a thread heating up) and long exchanges (a civil back-and-forth worth more room).

How it works: each conversation keeps a heat that cools exponentially (``half_life_minutes``). Every
message adds its hostility and its person-directedness, more when it follows the previous message
within a minute (tempo) and when the last messages come from only two people (narrowing to a
back-and-forth). The score is heat over ``full_heat``, capped at 1; escalation is reported when the
score crosses ``detect_at`` while rising, with enough messages in the conversation.

Separately, alternating turns between the same two members are counted, ignoring single
interjections by others. Enough turns within ``within_minutes``, none of them hostile, make a long
exchange: a reason to *offer* long form, never to alert moderators.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.settings import EscalationSettings, LongExchangeSettings

_RECENT = 8  # messages kept to judge tempo and narrowing
_FAST_REPLY = timedelta(seconds=60)
_TEMPO_BONUS = 0.25
_NARROWING_FACTOR = 1.3
_ATTACK_WEIGHT = 1.5
_MAX_TURNS = 32  # bounds memory of a very long exchange; settings cap min_turns at this


@dataclass(frozen=True, slots=True)
class EscalationFinding:
    """The conversation's heat score now, the messages that heated it most, and the members
    whose recent messages added the heat, in order of how much."""

    score: float
    evidence: tuple[str, ...]
    participants: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LongExchangeFinding:
    """Two members have exchanged ``turns`` civil turns; ``evidence``: the last of them."""

    pair: tuple[str, str]
    turns: int
    evidence: tuple[str, ...]


@dataclass(slots=True)
class _Recent:
    at: datetime
    author: str
    message_id: str
    contribution: float


@dataclass(slots=True)
class _Exchange:
    pair: tuple[str, str] | None = None
    turns: int = 0
    since: datetime | None = None
    last_author: str | None = None
    interjections: int = 0
    offered: bool = False
    turn_times: list[datetime] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


class EscalationDetector:
    """Heat and exchange tracking for one conversation."""

    def __init__(self) -> None:
        self._heat = 0.0
        self._heat_at: datetime | None = None
        self._previous_score = 0.0
        self._messages = 0
        self._recent: deque[_Recent] = deque(maxlen=_RECENT)
        self._exchange = _Exchange()

    @property
    def score(self) -> float:
        """The heat score (0..1) as of the last message added: what ``add`` compared last."""
        return self._previous_score

    def add(
        self,
        at: datetime,
        author: str,
        message_id: str,
        hostility: float,
        attack: float,
        settings: EscalationSettings,
    ) -> EscalationFinding | None:
        """Add one message; return a finding when the heat crosses ``detect_at`` while rising."""
        self._cool(at, settings)
        contribution = hostility + _ATTACK_WEIGHT * attack
        if self._recent and at - self._recent[-1].at <= _FAST_REPLY:
            contribution += _TEMPO_BONUS * contribution
        self._recent.append(_Recent(at, author, message_id, contribution))
        if len(self._recent) >= 4 and len({entry.author for entry in self._recent}) <= 2:
            contribution *= _NARROWING_FACTOR
        self._heat += contribution
        self._messages += 1
        score = min(1.0, self._heat / settings.full_heat)
        rising, self._previous_score = score > self._previous_score, score
        if self._messages < settings.min_messages or score < settings.detect_at or not rising:
            return None
        hottest = sorted(self._recent, key=lambda entry: -entry.contribution)[:4]
        return EscalationFinding(
            round(score, 4),
            tuple(e.message_id for e in hottest if e.contribution > 0),
            self._heaters(),
        )

    def _heaters(self) -> tuple[str, ...]:
        """The authors of the recent messages that added heat, most heat first (ties: who came
        first). Someone calming the thread adds none and is not named."""
        added: dict[str, float] = {}
        for entry in self._recent:
            if entry.contribution > 0.0:
                added[entry.author] = added.get(entry.author, 0.0) + entry.contribution
        return tuple(sorted(added, key=lambda author: -added[author]))

    def add_turn(
        self,
        at: datetime,
        author: str,
        message_id: str,
        hostility: float,
        settings: LongExchangeSettings,
    ) -> LongExchangeFinding | None:
        """Count a turn; return a finding the moment a civil exchange reaches ``min_turns``."""
        exchange = self._exchange
        if hostility > settings.max_hostility:
            self._exchange = _Exchange(last_author=author)
            return None
        if exchange.pair is not None and author in exchange.pair:
            if author != exchange.last_author:
                exchange.turns += 1
                exchange.turn_times.append(at)
                exchange.evidence.append(message_id)
                del exchange.turn_times[:-_MAX_TURNS], exchange.evidence[:-_MAX_TURNS]
            exchange.interjections = 0
        elif exchange.pair is not None and exchange.interjections == 0:
            exchange.interjections = 1  # one interjection does not end an exchange
            return None
        elif exchange.last_author is not None and exchange.last_author != author:
            exchange = self._exchange = _Exchange(
                (exchange.last_author, author), 1, at, turn_times=[at], evidence=[message_id]
            )
        exchange.last_author = author
        if exchange.pair is None or exchange.offered or exchange.turns < settings.min_turns:
            return None
        first_counted = exchange.turn_times[-settings.min_turns]
        if at - first_counted > timedelta(minutes=settings.within_minutes):
            return None
        exchange.offered = True
        return LongExchangeFinding(exchange.pair, exchange.turns, tuple(exchange.evidence[-4:]))

    def forget(self, message_id: str) -> None:
        """Drop a deleted message from the evidence this detector would cite."""
        self._recent = deque(
            (entry for entry in self._recent if entry.message_id != message_id), maxlen=_RECENT
        )
        if message_id in self._exchange.evidence:
            self._exchange.evidence.remove(message_id)

    def _cool(self, at: datetime, settings: EscalationSettings) -> None:
        if self._heat_at is not None and at > self._heat_at:
            minutes = (at - self._heat_at).total_seconds() / 60.0
            self._heat *= 0.5 ** (minutes / settings.half_life_minutes)
        self._heat_at = at if self._heat_at is None else max(at, self._heat_at)
