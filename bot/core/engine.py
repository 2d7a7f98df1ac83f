"""The engine: events in, decisions out, deterministic and bounded.

How it works: every message is analysed once (language cues, and a scorer's attributes unless the
caller already scored it) and offered to three detectors: ad hominem (the message itself), pile-on
(pressure on the member it replies to or mentions) and escalation (the conversation's heat and any
long two-person exchange). Each detection is mapped through the channel's policy levels to
decisions, which pass cooldowns (one prompt per member per thread per N hours, one notice or alert
per thread and signal per N minutes) and are merged so that the most severe wins.

Memory is bounded: messages are remembered for ``memory.message_hours`` (at most
``memory.max_messages`` of them), conversations idle for ``memory.idle_conversation_hours`` are
forgotten, and joins and cooldowns expire with the windows that use them.
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache

from bot.core.ad_hominem import AdHominemDetector, AdHominemFinding
from bot.core.decisions import Decision, Decisions, Detection, PromptMember, merge
from bot.core.escalation import EscalationDetector
from bot.core.events import (
    ConversationKey,
    Event,
    LongformOpened,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
)
from bot.core.explain import Explainer, as_written
from bot.core.forecast import ForecastDetector, ForecastModel, shipped_model, turn_vector
from bot.core.language import analyse
from bot.core.outcomes import HEAT_WINDOW, OutcomeTracker
from bot.core.outcomes import KINDS as TRACKED
from bot.core.pile_on import PileOnDetector, message_pressure
from bot.core.rephrase import MAX_ROUNDS, ClaimCheck, claim_alone
from bot.core.responses import Responder
from bot.core.scoring import Scorer, Scores, hostility
from bot.core.seen import _Seen
from bot.core.seen import json_chunks as seen_json
from bot.core.settings import Policy, Settings
from bot.core.snapshot import (
    CHUNK,
    COMPATIBLE,
    FORMAT,
    Plain,
    SnapshotError,
    from_plain,
    json_chunks,
    register,
)

_HOUSEKEEPING_EVERY = 1024  # events between sweeps of idle state when nobody calls tick()
# Pile-on windows of live conversations expire as they are used; a full pass over every
# conversation is only for targets nobody replies to any more, so it runs on every 16th sweep.
_FULL_SWEEP_EVERY = 16
_FULL_SWEEP_INTERVAL = timedelta(minutes=1)
# Each conversation's last messages as (time, author, heat), for an intervention's "before"
# (bot.core.outcomes): a thread writing more than this in 15 minutes is rare.
_HEAT_LOG = 64


@dataclass(slots=True)
class _Conversation:
    pile_on: PileOnDetector = field(default_factory=PileOnDetector)
    escalation: EscalationDetector = field(default_factory=EscalationDetector)
    forecast: ForecastDetector = field(default_factory=ForecastDetector)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    last_author: str | None = None
    last_at: datetime | None = None
    heat_log: deque[tuple[datetime, str, float]] = field(
        default_factory=lambda: deque(maxlen=_HEAT_LOG)
    )


class Engine:
    """Longform's judgement. ``feed`` and ``tick`` are the only ways in; both return Decisions.

    Guarantees: no clock, I/O or randomness; the same events fed in the same order (with the same
    ticks) give the same decisions; memory stays bounded however many events arrive.
    """

    def __init__(
        self, policy: Policy, scorer: Scorer | None = None, forecast: ForecastModel | None = None
    ) -> None:
        self._policy = policy
        self._forecast = forecast if forecast is not None else shipped_model()
        self._channel_settings = dict(policy.channels)
        self._scorer = scorer
        # Asked only about messages found to attack someone, so its cost is off the cheap path.
        self._explainer = scorer if isinstance(scorer, Explainer) else None
        self._ad_hominem = AdHominemDetector()
        self._responder = Responder()
        self._outcomes = OutcomeTracker()  # outcomes: every intervention, watched until settled
        self._messages: OrderedDict[str, _Seen] = OrderedDict()
        self._conversations: OrderedDict[ConversationKey, _Conversation] = OrderedDict()
        self._joins: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._now: datetime | None = None
        self._events_since_sweep = 0
        self._sweeps = 0
        self._full_sweep_at: datetime | None = None

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        return self._policy

    def replace_policy(self, policy: Policy) -> None:
        """Put a new, already validated policy in force; what the engine remembers is kept."""
        self._policy = policy
        self._channel_settings = dict(policy.channels)

    def settings_for(self, channel: str) -> Settings:
        """The effective settings in ``channel``."""
        return self._channel_settings.get(channel, self._policy.settings)

    @property
    def size(self) -> dict[str, int]:
        """How much the engine currently remembers (for metrics and the memory benchmark)."""
        return {
            "messages": len(self._messages),
            "conversations": len(self._conversations),
            "joins": len(self._joins),
            "cooldowns": self._responder.size,
            "watched": self._outcomes.size,
        }

    def feed(self, event: Event, scores: Scores | None = None) -> Decisions:
        """Judge one event. ``scores`` are the scorer's attributes for a message's text, if the
        caller scored it already (the runtime scores off the event loop, in batches). Outcomes of
        earlier interventions whose windows this event's time ends come with the decisions."""
        self._advance(event.at)
        if isinstance(event, MessagePosted):
            decided = self._on_message(event, scores)
        elif isinstance(event, MessageEdited):
            decided = self._on_edit(event, scores)
        elif isinstance(event, MessageDeleted):
            self._on_delete(event)
            decided = Decisions()
        elif isinstance(event, LongformOpened):
            self._outcomes.opened(event.conversation, event.message_id, event.venue)
            decided = Decisions()
        else:
            self._joins[(event.community, event.user)] = event.at
            self._joins.move_to_end((event.community, event.user))
            decided = Decisions()
        return self._settled(decided)

    # -- outcomes (bot.core.outcomes): the hooks ---------------------------------------------

    def _settled(self, decided: Decisions) -> Decisions:
        """``decided`` with the outcomes that are due by now."""
        due = self._outcomes.due(self._now) if self._now is not None else ()
        return Decisions(decided.detections, decided.actions, due) if due else decided

    def _watch(self, decided: Decisions, heat: float = 0.0) -> None:
        """Tell the tracker what was detected and start watching what was decided."""
        for detection in decided.detections:
            if self._outcomes.watching(detection.conversation):
                self._outcomes.detected(detection.conversation, detection.message_id, detection.at)
        experiment = self._policy.experiment
        for action in decided.actions:
            if type(action) not in TRACKED:
                continue
            settings = self.settings_for(action.conversation.channel)
            member = action.member if isinstance(action, PromptMember) else None
            target = next((d.target for d in decided.detections
                           if d.message_id == action.message_id and d.signal == action.signal), None)  # fmt: skip
            before = self._heat_before(action.conversation, action.at, member)
            known = self._conversations.get(action.conversation)
            authors = frozenset(known.first_seen) if known is not None else frozenset()
            self._outcomes.start(action, target=target, threshold=settings.ad_hominem.detect_at,
                                 before=before, window_minutes=experiment.window_minutes,
                                 edit_minutes=experiment.edit_minutes,
                                 participants=authors)  # fmt: skip

    def _heat_before(self, key: ConversationKey, at: datetime, author: str | None) -> float:
        """The thread's heat in the 15 minutes up to ``at``; for ``author``, their mean heat over
        their messages among the thread's last ones (the triggering message included)."""
        conversation = self._conversations.get(key)
        log = conversation.heat_log if conversation is not None else ()
        if author is None:
            since = at - HEAT_WINDOW
            return sum(heat for when, _, heat in log if since <= when <= at)
        own = [heat for when, who, heat in log if who == author and when <= at]
        return sum(own) / len(own) if own else 0.0

    def snapshot(self) -> dict[str, Plain]:
        """Everything the engine remembers, as plain data (JSON-ready); never message text."""
        return json.loads("".join(self.snapshot_json()))  # type: ignore[no-any-return]

    def snapshot_json(self) -> Iterator[str]:
        """``snapshot()`` as JSON text in pieces, made a slice of each large part at a time, so
        that saving never holds all of the engine's memory twice over as plain objects."""
        yield f'{{"format": {FORMAT}, "state": {{'
        for index, name in enumerate(_STATE):
            yield f'{", " if index else ""}"{name}": '
            # The remembered messages are most of it: a compact table of their own (bot.core.seen).
            if name == "_messages":
                yield from seen_json(self._messages, CHUNK)
            else:
                yield from json_chunks(getattr(self, name))
        yield "}}"

    @classmethod
    def restore(
        cls,
        policy: Policy,
        scorer: Scorer | None,
        snapshot: dict[str, Plain],
        forecast: ForecastModel | None = None,
    ) -> Engine:
        """An engine that remembers what ``snapshot`` recorded, under ``policy``.

        Raises SnapshotError if the snapshot is damaged or of another format; the caller then
        starts a fresh engine and says so.
        """
        if snapshot.get("format") not in COMPATIBLE:
            raise SnapshotError(f"snapshot format {snapshot.get('format')!r}, expected {FORMAT}")
        engine = cls(policy, scorer, forecast)
        state = snapshot.get("state")
        # A format-2 snapshot predates the outcome tracker: it restores with nothing watched.
        names = _STATE if snapshot.get("format") != 2 else _STATE[:-1]
        if not isinstance(state, dict) or set(state) != set(names):
            raise SnapshotError("snapshot does not hold the engine's state")
        for name in names:
            setattr(engine, name, from_plain(state[name]))
        for conversation in engine._conversations.values():
            if not hasattr(conversation, "heat_log"):  # format 2: no heat log yet
                conversation.heat_log = deque(maxlen=_HEAT_LOG)
        return engine

    def tick(self, now: datetime) -> Decisions:
        """Time passes: lift expired slow modes and forget what has expired."""
        self._advance(now)
        # A caller may tick before every event (replay does): sweep everything at most once a
        # minute of event time, which keeps memory bounded without walking all state each time.
        if self._full_sweep_at is None or now - self._full_sweep_at >= _FULL_SWEEP_INTERVAL:
            self._sweep(now, full=True)
        lifts: list[Decision] = list(self._responder.due_lifts(now))
        return self._settled(Decisions(actions=tuple(lifts)))

    # -- events ---------------------------------------------------------------------------------

    def _on_message(self, message: MessagePosted, scores: Scores | None) -> Decisions:
        settings = self.settings_for(message.channel)
        conversation = self._conversation(message.conversation)
        reply_author = self._reply_author(message)
        if reply_author != message.reply_to_author:
            message = _with_reply_author(message, reply_author)
        last_other = (
            conversation.last_author if conversation.last_author != message.author else None
        )
        conversation.first_seen.setdefault(message.author, message.at)
        conversation.last_author, conversation.last_at = message.author, message.at
        if self._outcomes.in_venue(message.conversation):
            self._outcomes.wrote_in_venue(message.conversation, message.author, message.at)
        if not settings.exempt_roles or message.author_roles.isdisjoint(settings.exempt_roles):
            return self._judge(message, scores, settings, conversation, last_other)
        self._remember(message, (), 0.0, 0.0, {})
        conversation.heat_log.append((message.at, message.author, 0.0))
        if self._outcomes.watching(message.conversation):
            self._outcomes.posted(message.conversation, message.author, (), 0.0, message.at)
        return Decisions()

    def _judge(
        self,
        message: MessagePosted,
        scores: Scores | None,
        settings: Settings,
        conversation: _Conversation,
        last_other: str | None,
    ) -> Decisions:
        scores = self._score(message.text) if scores is None else scores
        analysis = analyse(message.text)
        finding = self._ad_hominem.judge(message, scores, last_other)
        attack = finding.score if finding else 0.0
        hostile = hostility(scores)
        pressed = _pressed(message, finding)
        self._remember(message, pressed, attack, hostile, scores)
        conversation.heat_log.append((message.at, message.author, max(hostile, attack)))
        if self._outcomes.watching(message.conversation):
            self._outcomes.posted(message.conversation, message.author, pressed,
                                  max(hostile, attack), message.at)  # fmt: skip
        detections: list[Detection] = []
        actions: list[Decision] = []
        if finding is not None and attack >= settings.ad_hominem.detect_at:
            words = self._words(message.text, finding)
            self._respond(
                self._responder.ad_hominem(
                    message,
                    finding,
                    scores,
                    settings,
                    words,
                    self._claim(message, message.text, words, settings),
                ),
                detections,
                actions,
            )
        elif settings.ad_hominem.alert_absent and analysis.absent_insult:
            words = (as_written(message.text, analysis.absent_insult),)
            self._respond(
                self._responder.absent_insult(message, words, settings), detections, actions
            )
        pressure = message_pressure(attack, hostile, analysis.disagreement, analysis.warmth)
        newcomer = self._is_newcomer(message, conversation, settings)
        for target in pressed:
            found = conversation.pile_on.add(
                target, message.at, message.author, message.id, pressure, newcomer, settings.pile_on
            )
            if found is not None:
                self._respond(
                    self._responder.pile_on(message, found, settings), detections, actions
                )
        heat = conversation.escalation.add(
            message.at, message.author, message.id, hostile, attack, settings.escalation
        )
        if heat is not None:
            self._respond(self._responder.escalation(message, heat, settings), detections, actions)
        if settings.long_exchange.enabled:
            turn = conversation.escalation.add_turn(
                message.at, message.author, message.id, max(hostile, attack), settings.long_exchange
            )
            if turn is not None:
                self._respond(
                    self._responder.long_exchange(message, turn, settings), detections, actions
                )
        if settings.forecast.enabled:
            # The forecast was trained on the fast tier's own score (``attack_fast``, where the
            # scorer gives it): a heavier tier's ``attack`` reads differently.
            text = message.text
            attack_score = scores.get("attack_fast", scores.get("attack", 0.0))
            forecast = conversation.forecast.add(
                message.at, message.author, message.id,
                lambda: turn_vector(text, attack_score, hostile), self._forecast, settings.forecast,
                tuple(filter(None, (message.reply_to_author, *message.mentions))),
            )  # fmt: skip
            if forecast is not None:
                self._respond(
                    self._responder.forecast(message, forecast, settings), detections, actions
                )
        decided = Decisions(tuple(detections), merge(actions))
        if decided:
            self._watch(decided)
        return decided

    def _on_edit(self, edit: MessageEdited, scores: Scores | None) -> Decisions:
        seen = self._messages.get(edit.id)
        if seen is None:
            return Decisions()  # too old, never seen, or from an exempt member
        settings = self.settings_for(seen.conversation.channel)
        scores = self._score(edit.text) if scores is None else scores
        original = MessagePosted(
            id=edit.id, at=seen.at, community=seen.conversation.community,
            channel=seen.conversation.channel, thread=seen.conversation.thread,
            author=seen.author, text=edit.text,
            reply_to_author=seen.pressed[0] if seen.pressed else None,
        )  # fmt: skip
        finding = self._ad_hominem.judge(original, scores, None)
        attack = finding.score if finding else 0.0
        was_attack = seen.attack >= settings.ad_hominem.detect_at
        seen.attack, seen.hostility, seen.scores = attack, hostility(scores), scores
        conversation = self._conversations.get(seen.conversation)
        if conversation is not None:
            analysis = analyse(edit.text)
            pressure = message_pressure(
                attack, seen.hostility, analysis.disagreement, analysis.warmth
            )
            conversation.pile_on.update_pressure(edit.id, pressure)
        if self._outcomes.watching(seen.conversation):
            self._outcomes.edited(edit.id, seen.conversation, edit.at, attack)
        if finding is None or was_attack or attack < settings.ad_hominem.detect_at:
            return Decisions()
        detections: list[Detection] = []
        actions: list[Decision] = []
        edited = replace(original, at=edit.at)
        words = self._words(edit.text, finding)
        self._respond(
            self._responder.ad_hominem(
                edited,
                finding,
                scores,
                settings,
                words,
                self._claim(original, edit.text, words, settings),
            ),
            detections,
            actions,
        )
        decided = Decisions(tuple(detections), merge(actions))
        self._watch(decided)
        return decided

    def _on_delete(self, deletion: MessageDeleted) -> None:
        seen = self._messages.pop(deletion.id, None)
        if seen is None:
            return
        if self._outcomes.watching(seen.conversation):
            self._outcomes.deleted(deletion.id, seen.conversation, deletion.at)
        conversation = self._conversations.get(seen.conversation)
        if conversation is not None:
            conversation.pile_on.forget(deletion.id)
            conversation.escalation.forget(deletion.id)
            conversation.forecast.forget(deletion.id)

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _respond(
        response: tuple[Detection, tuple[Decision, ...]],
        detections: list[Detection],
        actions: list[Decision],
    ) -> None:
        detection, decided = response
        detections.append(detection)
        actions.extend(decided)

    def _words(self, text: str, finding: AdHominemFinding) -> tuple[str, ...]:
        """The words of a flagged message that read as personal, as written: the rule cue's
        span, else (a model fired) the words the scorer says moved its score most."""
        if finding.phrase:
            return (as_written(text, finding.phrase),)
        return self._explainer.salient(text) if self._explainer is not None else ()

    def _claim(
        self, message: MessagePosted, text: str, words: tuple[str, ...], settings: Settings
    ) -> str | None:
        return self.claim_check(message, text, words, settings).shown

    def claim_check(
        self,
        message: MessagePosted,
        text: str,
        words: tuple[str, ...],
        settings: Settings | None = None,
        rounds: int = MAX_ROUNDS,
    ) -> ClaimCheck:
        """The claim left beside the personal words ``words`` of ``text`` (bot.core.rephrase),
        shown only when it, judged alone, no longer reads as an attack (one more scoring a round,
        for flagged messages only; ``rounds``: see bot.core.rephrase)."""
        threshold = (settings or self.settings_for(message.channel)).ad_hominem.detect_at

        def still_personal(claim: str) -> tuple[str, ...] | None:
            finding = self._ad_hominem.judge(message, self._score(claim), None, claim)
            if finding is None or finding.score < threshold:
                return None
            return self._words(claim, finding)

        return claim_alone(text, words, still_personal, rounds)

    def _score(self, text: str) -> Scores:
        if self._scorer is None:
            return {}
        return self._scorer.score([text])[0]

    def _reply_author(self, message: MessagePosted) -> str | None:
        if message.reply_to_author or not message.reply_to:
            return message.reply_to_author
        seen = self._messages.get(message.reply_to)
        return seen.author if seen else None

    def _conversation(self, key: ConversationKey) -> _Conversation:
        conversation = self._conversations.get(key)
        if conversation is None:
            conversation = self._conversations[key] = _Conversation()
        self._conversations.move_to_end(key)
        return conversation

    def _is_newcomer(
        self, message: MessagePosted, conversation: _Conversation, settings: Settings
    ) -> bool:
        joined = message.author_joined_at or self._joins.get((message.community, message.author))
        if joined is not None and message.at - joined <= _hours(settings.pile_on.newcomer_hours):
            return True
        window = _minutes(settings.pile_on.window_minutes)
        return message.at - conversation.first_seen[message.author] <= window

    def _remember(
        self,
        message: MessagePosted,
        pressed: tuple[str, ...],
        attack: float,
        hostile: float,
        scores: Scores,
    ) -> None:
        self._messages[message.id] = _Seen(
            message.conversation, message.author, message.at, pressed, attack, hostile, scores
        )
        self._messages.move_to_end(message.id)
        while len(self._messages) > self._policy.memory.max_messages:
            self._messages.popitem(last=False)

    def _advance(self, at: datetime) -> None:
        self._now = at if self._now is None else max(self._now, at)
        self._events_since_sweep += 1
        if self._events_since_sweep >= _HOUSEKEEPING_EVERY:
            self._sweep(self._now)

    def _sweep(self, now: datetime, full: bool = False) -> None:
        """Forget what has expired. Oldest entries sit first in each ordered map."""
        self._events_since_sweep = 0
        self._sweeps += 1
        memory = self._policy.memory
        message_horizon = now - timedelta(hours=memory.message_hours)
        while self._messages and next(iter(self._messages.values())).at < message_horizon:
            self._messages.popitem(last=False)
        idle_horizon = now - timedelta(hours=memory.idle_conversation_hours)
        while self._conversations:
            key, conversation = next(iter(self._conversations.items()))
            if conversation.last_at is not None and conversation.last_at >= idle_horizon:
                break
            del self._conversations[key]
        join_horizon = now - timedelta(hours=self._longest_newcomer_hours())
        while self._joins and next(iter(self._joins.values())) < join_horizon:
            self._joins.popitem(last=False)
        if full or self._sweeps % _FULL_SWEEP_EVERY == 0:
            # Walks every conversation and cooldown: rare, and only for what nothing else expires.
            self._full_sweep_at = now
            for key, conversation in self._conversations.items():
                conversation.pile_on.expire(now, self.settings_for(key.channel).pile_on)
            self._responder.expire(now, lambda channel: self.settings_for(channel).cooldowns)

    def _longest_newcomer_hours(self) -> float:
        every = [self._policy.settings, *self._channel_settings.values()]
        return max(settings.pile_on.newcomer_hours for settings in every)


# What a snapshot holds: the engine's memory, not its policy or scorer (given again on restore).
_STATE = ("_messages", "_conversations", "_joins", "_now", "_events_since_sweep", "_sweeps",
          "_full_sweep_at", "_responder", "_outcomes")  # fmt: skip
register(_Seen, _Conversation)


# A policy has a handful of window lengths: each timedelta is made once, not once a message.
@lru_cache(maxsize=64)
def _hours(hours: float) -> timedelta:
    return timedelta(hours=hours)


@lru_cache(maxsize=64)
def _minutes(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def _with_reply_author(message: MessagePosted, author: str | None) -> MessagePosted:
    # dataclasses.replace introspects fields on every call; this runs for most replies.
    return MessagePosted(
        message.id, message.at, message.community, message.channel, message.author, message.text,
        message.thread, message.reply_to, author, message.mentions, message.author_joined_at,
        message.author_roles,
    )  # fmt: skip


def _pressed(message: MessagePosted, finding: AdHominemFinding | None) -> tuple[str, ...]:
    """Members this message presses on: the one replied to and those mentioned."""
    targets = [message.reply_to_author] if message.reply_to_author else []
    targets.extend(message.mentions)
    if finding is not None and finding.target:
        targets.append(finding.target)
    return tuple(t for t in dict.fromkeys(targets) if t and t != message.author)
