"""Pile-on: many distinct members converging on one person within minutes.

How it works: every reply to a member's message, and every mention of a member, is pressure on that
member. A message's pressure is its hostility or person-directedness, or a smaller amount for plain
disagreement; a warm message ("congrats!", "great point") adds none. Each author counts once, with
their strongest message in the window, and newcomers (recent joiners of the community, members new
to the thread) weigh more. The score is the summed pressure over ``full_pressure``, capped at 1. A
pile-on needs at least ``min_authors`` distinct members besides the target, so one author alone, or
a wave of warm replies, never makes one; and ``min_pointed`` of them must be hostile or aim at the
person, so that a busy, civil thread (many members asking one person questions) is not one either,
and its later repliers are not told they are joining a pile-on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.settings import PileOnSettings

_NEUTRAL_REPLY = 0.15  # a reply with no cue at all: attention, not yet pressure
_DISAGREEMENT = 0.45
# Pressure from here up comes only from hostility or an attack on the person (a question or plain
# disagreement presses less): a pile-on needs ``min_pointed`` such members among its authors.
POINTED = 0.5


def message_pressure(attack: float, hostility: float, disagreement: float, warmth: float) -> float:
    """How much one message presses on the person it replies to or mentions (0..1)."""
    if warmth > 0.0 and attack < 0.3 and hostility < 0.5:
        return 0.0
    return max(attack, hostility, _DISAGREEMENT if disagreement > 0.0 else _NEUTRAL_REPLY)


@dataclass(frozen=True, slots=True)
class PileOnFinding:
    """A pile-on on ``target``: who came, when, and where the newest author stands in it."""

    target: str
    score: float
    authors: tuple[str, ...]
    evidence: tuple[str, ...]
    window_minutes: float
    newcomers: int
    position: int
    first_at: datetime
    late_joiner: bool


@dataclass(slots=True)
class _Pressure:
    at: datetime
    author: str
    message_id: str
    pressure: float
    newcomer: bool


@dataclass(slots=True)
class _TargetWindow:
    entries: deque[_Pressure] = field(default_factory=deque)
    active: bool = False  # a pile-on was detected and the window has not emptied since


class PileOnDetector:
    """Tracks pressure on each member of one conversation."""

    def __init__(self) -> None:
        self._targets: dict[str, _TargetWindow] = {}

    def add(
        self,
        target: str,
        entry_at: datetime,
        author: str,
        message_id: str,
        pressure: float,
        newcomer: bool,
        settings: PileOnSettings,
    ) -> PileOnFinding | None:
        """Record one reply or mention. Returns a finding when a pile-on starts, and again for each
        member who joins one already under way (a late joiner); otherwise None."""
        window = self._targets.setdefault(target, _TargetWindow())
        self._expire(window, entry_at, settings)
        was_active = window.active
        new_author = all(entry.author != author for entry in window.entries)
        window.entries.append(_Pressure(entry_at, author, message_id, pressure, newcomer))
        if was_active and not (new_author and pressure > 0.0):
            return None
        finding = self._assess(target, window, author, was_active, settings)
        if finding is not None:
            window.active = True
        return finding

    def is_active(self, target: str) -> bool:
        """Whether a pile-on on ``target`` is under way."""
        window = self._targets.get(target)
        return window is not None and window.active

    def update_pressure(self, message_id: str, pressure: float) -> None:
        """An edited message presses differently now."""
        for window in self._targets.values():
            for entry in window.entries:
                if entry.message_id == message_id:
                    entry.pressure = pressure

    def forget(self, message_id: str) -> None:
        """Drop a deleted message from every window."""
        for window in self._targets.values():
            kept = [entry for entry in window.entries if entry.message_id != message_id]
            if len(kept) != len(window.entries):
                window.entries = deque(kept)

    def expire(self, now: datetime, settings: PileOnSettings) -> None:
        """Drop pressure older than the window, and targets with none left."""
        for target in list(self._targets):
            window = self._targets[target]
            self._expire(window, now, settings)
            if not window.entries:
                del self._targets[target]

    @staticmethod
    def _expire(window: _TargetWindow, now: datetime, settings: PileOnSettings) -> None:
        horizon = now - timedelta(minutes=settings.window_minutes)
        while window.entries and window.entries[0].at < horizon:
            window.entries.popleft()
        if not window.entries:
            window.active = False

    @staticmethod
    def _assess(
        target: str, window: _TargetWindow, newest: str, late: bool, settings: PileOnSettings
    ) -> PileOnFinding | None:
        strongest: dict[str, _Pressure] = {}
        for entry in window.entries:
            if entry.author == target or entry.pressure <= 0.0:
                continue  # warm replies are support, not convergence
            kept = strongest.get(entry.author)
            if kept is None or entry.pressure > kept.pressure:
                strongest[entry.author] = entry
        if len(strongest) < settings.min_authors:
            return None
        if sum(1 for e in strongest.values() if e.pressure >= POINTED) < settings.min_pointed:
            return None  # many repliers, none hostile or aimed at the person: a busy thread
        total = sum(
            entry.pressure * (settings.newcomer_weight if entry.newcomer else 1.0)
            for entry in strongest.values()
        )
        score = min(1.0, total / settings.full_pressure)
        if score < settings.detect_at:
            return None
        authors = tuple(strongest)  # insertion order: order of arrival
        evidence = tuple(e.message_id for e in window.entries if e.author in strongest)
        return PileOnFinding(
            target=target,
            score=round(score, 4),
            authors=authors,
            evidence=tuple(dict.fromkeys(evidence)),
            window_minutes=settings.window_minutes,
            newcomers=sum(1 for entry in strongest.values() if entry.newcomer),
            position=authors.index(newest) + 1 if newest in strongest else len(authors),
            first_at=window.entries[0].at,
            late_joiner=late,
        )
