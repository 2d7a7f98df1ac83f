"""What became of each intervention: outcomes measured from the events that follow it.

How it works: the engine starts a watch for every intervention it decides (a private prompt, a
notice, a slow mode, a long-form space) and shows the tracker every later message, edit, deletion
and detection. Each watch counts what its kind needs, by ids and numbers only, never text, and
settles when its window (``[experiment] window_minutes``) has passed: ``due(now)`` returns its
:class:`OutcomeRecord` exactly once. The tracker knows nothing of the experiment's arms: whether
an intervention was sent or held back is the runtime's to record, and the report joins the two.

"Heat" is the summed hostility (the larger of a message's hostility and attack scores) of the
thread's messages in a 15-minute window: before (the 15 minutes up to the intervention), at 15
(the 15 minutes after it) and at 60 (minutes 45 to 60 after it). A quiet thread has no heat.

Outcomes by kind (rates are 0 or 1 per intervention; the others are means):
- prompt to an author: ``edited`` (within ``edit_minutes``), ``edit_below_threshold`` (edited, and
  the edit no longer reads as an attack), ``deleted``, ``posted_again`` (in the thread), and when
  they did, ``later_heat`` (mean over their later messages) against ``earlier_heat``.
- prompt to a late joiner: ``replied_to_target`` (still replied to or mentioned the target) and,
  when they did, ``reply_heat``.
- prompt to a pile-on's target: ``stayed`` (wrote in the thread again) and, once a long-form
  space for the thread is known, ``moved_to_longform`` (wrote there within the window).
- notice, slow mode, long-form space: ``heat_before``, ``heat_15``, ``heat_60``, ``change_15``,
  ``change_60``, ``cooled_15`` (heat at 15 below heat before) and ``detected_again``.
- long-form space, once the platform has said where it is (a ``LongformOpened`` event): ``moved``
  (how many of the conversation's participants wrote there within the window) and ``any_moved``
  (at least one did). Without that event (a platform that cannot say, a held-back space) the two
  are left out rather than counted as nobody.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.decisions import (
    Decision,
    OpenLongformSpace,
    PostNotice,
    PromptKind,
    PromptMember,
    SetSlowMode,
    Signal,
    recipient,
)
from bot.core.events import Compact, ConversationKey

HEAT_WINDOW = timedelta(minutes=15)
_HOUR = timedelta(minutes=60)
# The storage codec's names for the kinds tracked (a moderator alert's outcome, its
# acknowledgement and verdict, comes from the runtime's feedback, not from events).
KINDS: dict[type, str] = {
    PromptMember: "prompt_member",
    PostNotice: "post_notice",
    SetSlowMode: "set_slow_mode",
    OpenLongformSpace: "open_longform_space",
}
RATES = frozenset({"edited", "edit_below_threshold", "deleted", "posted_again",
                   "replied_to_target", "stayed", "cooled_15", "detected_again",
                   "any_moved", "moved_to_longform"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutcomeRecord(Compact):
    """The settled outcomes of one intervention, identified as its decision is (never text)."""

    kind: str  # the codec's kind name, e.g. "prompt_member"
    conversation: ConversationKey
    message_id: str
    signal: Signal
    recipient: str | None
    prompt: str  # the PromptKind for a prompt, "" otherwise
    decided_at: datetime
    settled_at: datetime
    measures: tuple[tuple[str, float], ...]

    @property
    def action(self) -> str:
        """What was done, as the report groups it: "prompt_member:late_joiner", "post_notice"."""
        return f"{self.kind}:{self.prompt}" if self.prompt else self.kind


@dataclass(slots=True)
class _Watch:
    """One intervention being watched, and what has followed it so far."""

    kind: str
    conversation: ConversationKey
    message_id: str
    signal: Signal
    recipient: str | None
    prompt: str
    decided_at: datetime
    ends_at: datetime
    edit_until: datetime
    member: str
    target: str
    threshold: float
    before: float
    edited: bool = False
    edit_attack: float = 1.0
    deleted: bool = False
    posts: int = 0
    heat: float = 0.0
    heat_15: float = 0.0
    heat_60: float = 0.0
    detections: int = 0


@dataclass(slots=True)
class _Venue:
    """Where a watched long-form space is, once known, and who of the conversation wrote there."""

    participants: frozenset[str]
    venue: ConversationKey | None = None
    moved: frozenset[str] = frozenset()


class OutcomeTracker:
    """Watches interventions and settles their outcomes when their windows end."""

    def __init__(self) -> None:
        self._watches: dict[int, _Watch] = {}
        self._by_conversation: dict[ConversationKey, list[int]] = {}
        self._due: list[tuple[datetime, int]] = []  # a heap of (ends_at, watch id)
        self._next = 0
        self._venues: dict[int, _Venue] = {}  # long-form spaces' watches: where, who moved
        self._by_venue: dict[ConversationKey, list[int]] = {}
        # Threads with a known space (and back), and the prompted targets who wrote there.
        self._venue_of: dict[ConversationKey, ConversationKey] = {}
        self._origin_of: dict[ConversationKey, ConversationKey] = {}
        self._target_moved: dict[int, bool] = {}

    def _after_restore(self) -> None:
        # A snapshot from before venues were tracked (format 4) has none of these.
        for name in ("_venues", "_by_venue", "_venue_of", "_origin_of", "_target_moved"):
            self.__dict__.setdefault(name, {})

    @property
    def size(self) -> int:
        """Interventions being watched."""
        return len(self._watches)

    def start(
        self,
        decision: Decision,
        *,
        target: str | None,
        threshold: float,
        before: float,
        window_minutes: float,
        edit_minutes: float,
        participants: frozenset[str] = frozenset(),
    ) -> None:
        """Watch ``decision`` from its time on. ``before``: the thread's heat before it, or for a
        prompt to an author their mean heat so far; ``threshold``: an attack's detection score;
        ``participants``: for a long-form space, who had written in the conversation."""
        kind = KINDS.get(type(decision))
        if kind is None:
            return
        prompt = decision.kind.value if isinstance(decision, PromptMember) else ""
        member = decision.member if isinstance(decision, PromptMember) else ""
        at = decision.at
        watch = _Watch(
            kind, decision.conversation, decision.message_id, decision.signal,
            recipient(decision), prompt, at, at + timedelta(minutes=window_minutes),
            at + timedelta(minutes=edit_minutes), member, target or "", threshold, before,
        )  # fmt: skip
        self._next += 1
        self._watches[self._next] = watch
        self._by_conversation.setdefault(decision.conversation, []).append(self._next)
        heapq.heappush(self._due, (watch.ends_at, self._next))
        if isinstance(decision, OpenLongformSpace):
            self._venues[self._next] = _Venue(participants | frozenset(decision.participants))

    def opened(
        self, conversation: ConversationKey, message_id: str, venue: ConversationKey
    ) -> None:
        """The long-form space decided on ``message_id`` in ``conversation`` is at ``venue``. A
        space opened on a participant's consent (another message) is the conversation's latest
        space still without a venue."""
        waiting = [key for key in self._by_conversation.get(conversation, ())
                   if key in self._venues and self._venues[key].venue is None]  # fmt: skip
        exact = [key for key in waiting if self._watches[key].message_id == message_id]
        for key in exact or waiting[-1:]:
            self._venues[key].venue = venue
            self._by_venue.setdefault(venue, []).append(key)
        if conversation in self._by_conversation:
            self._venue_of[conversation], self._origin_of[venue] = venue, conversation

    def in_venue(self, conversation: ConversationKey) -> bool:
        """True if ``conversation`` is a watched long-form space (the cheap check)."""
        return conversation in self._origin_of

    def wrote_in_venue(self, venue: ConversationKey, author: str, at: datetime) -> None:
        """``author`` wrote in the long-form space ``venue`` at ``at``."""
        for key in self._by_venue.get(venue, ()):
            watch, space = self._watches[key], self._venues[key]
            if watch.decided_at <= at <= watch.ends_at and author in space.participants:
                space.moved = space.moved | {author}
        origin = self._origin_of.get(venue)
        for target in self._targets(origin) if origin is not None else ():
            prompt = self._watches[target]
            if prompt.member == author and prompt.decided_at <= at <= prompt.ends_at:
                self._target_moved[target] = True

    def _targets(self, conversation: ConversationKey) -> list[int]:
        """The watched prompts to a pile-on's target in ``conversation``."""
        return [key for key in self._by_conversation.get(conversation, ())
                if self._watches[key].prompt == PromptKind.PILE_ON_TARGET]  # fmt: skip

    def watching(self, conversation: ConversationKey) -> bool:
        """True if an intervention in ``conversation`` is being watched (the cheap check)."""
        return conversation in self._by_conversation

    def posted(
        self,
        conversation: ConversationKey,
        author: str,
        pressed: tuple[str, ...],
        heat: float,
        at: datetime,
    ) -> None:
        """A message in ``conversation`` by ``author``, pressing on ``pressed``, of ``heat``."""
        for watch in self._in(conversation):
            if at <= watch.decided_at or at > watch.ends_at:
                continue
            after = at - watch.decided_at
            if watch.kind != "prompt_member":
                if after <= HEAT_WINDOW:
                    watch.heat_15 += heat
                if _HOUR - HEAT_WINDOW < after <= _HOUR:
                    watch.heat_60 += heat
            elif author == watch.member and (
                watch.prompt != PromptKind.LATE_JOINER or watch.target in pressed
            ):
                watch.posts += 1
                watch.heat += heat

    def edited(self, message_id: str, conversation: ConversationKey, at: datetime,
               attack: float) -> None:  # fmt: skip
        """The message ``message_id`` was edited at ``at``; the edit's attack score is ``attack``."""
        for watch in self._in(conversation):
            own = watch.message_id == message_id and watch.prompt == PromptKind.AD_HOMINEM_AUTHOR
            if own and watch.decided_at <= at <= watch.edit_until:
                watch.edited, watch.edit_attack = True, attack

    def deleted(self, message_id: str, conversation: ConversationKey, at: datetime) -> None:
        """The message ``message_id`` was deleted at ``at``."""
        for watch in self._in(conversation):
            if watch.message_id == message_id and at <= watch.ends_at:
                watch.deleted = True

    def detected(self, conversation: ConversationKey, message_id: str, at: datetime) -> None:
        """Something was detected on ``message_id`` in ``conversation``."""
        for watch in self._in(conversation):
            if message_id != watch.message_id and watch.decided_at < at <= watch.ends_at:
                watch.detections += 1

    def due(self, now: datetime) -> tuple[OutcomeRecord, ...]:
        """The outcomes of every watch whose window has ended by ``now``, each exactly once."""
        if not self._due or self._due[0][0] > now:
            return ()
        settled: list[OutcomeRecord] = []
        while self._due and self._due[0][0] <= now:
            _, key = heapq.heappop(self._due)
            watch = self._watches.pop(key)
            moved = self._target_moved.pop(key, False)
            known = (
                watch.conversation in self._venue_of and watch.prompt == PromptKind.PILE_ON_TARGET
            )
            settled.append(_record(watch, self._forget_venue(key), moved if known else None))
            keys = self._by_conversation[watch.conversation]
            keys.remove(key)
            if not keys:  # nothing watched there any more: forget the thread and its space
                del self._by_conversation[watch.conversation]
                venue = self._venue_of.pop(watch.conversation, None)
                if venue is not None:
                    self._origin_of.pop(venue, None)
        return tuple(settled)

    def _forget_venue(self, key: int) -> _Venue | None:
        space = self._venues.pop(key, None)
        if space is not None and space.venue is not None:
            keys = self._by_venue[space.venue]
            keys.remove(key)
            if not keys:
                del self._by_venue[space.venue]
        return space

    def _in(self, conversation: ConversationKey) -> list[_Watch]:
        return [self._watches[key] for key in self._by_conversation.get(conversation, ())]


def _record(
    watch: _Watch, space: _Venue | None = None, target_moved: bool | None = None
) -> OutcomeRecord:
    measures = _measures(watch)
    if space is not None and space.venue is not None:
        measures |= {"moved": float(len(space.moved)), "any_moved": float(bool(space.moved))}
    if target_moved is not None:
        measures["moved_to_longform"] = float(target_moved)
    return OutcomeRecord(
        watch.kind, watch.conversation, watch.message_id, watch.signal, watch.recipient,
        watch.prompt, watch.decided_at, watch.ends_at, tuple(sorted(measures.items())),
    )  # fmt: skip


def _measures(watch: _Watch) -> dict[str, float]:
    if watch.prompt == PromptKind.AD_HOMINEM_AUTHOR:
        found = {"edited": float(watch.edited), "deleted": float(watch.deleted),
                 "edit_below_threshold": float(watch.edited and watch.edit_attack < watch.threshold),
                 "posted_again": float(watch.posts > 0), "earlier_heat": watch.before}  # fmt: skip
        if watch.posts:
            found["later_heat"] = watch.heat / watch.posts
            found["heat_change"] = found["later_heat"] - watch.before
        return {key: round(value, 4) for key, value in found.items()}
    if watch.prompt == PromptKind.LATE_JOINER:
        found = {"replied_to_target": float(watch.posts > 0)}
        if watch.posts:
            found["reply_heat"] = round(watch.heat / watch.posts, 4)
        return found
    if watch.prompt == PromptKind.PILE_ON_TARGET:
        return {"stayed": float(watch.posts > 0)}
    return {key: round(value, 4) for key, value in {
        "heat_before": watch.before, "heat_15": watch.heat_15, "heat_60": watch.heat_60,
        "change_15": watch.heat_15 - watch.before, "change_60": watch.heat_60 - watch.before,
        "cooled_15": float(watch.heat_15 < watch.before),
        "detected_again": float(watch.detections > 0),
    }.items()}  # fmt: skip
