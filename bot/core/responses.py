"""From findings to decisions: policy levels, prompt texts, cooldowns and slow-mode bookkeeping.

How it works: a finding's score selects the highest policy level it reaches; each action of that
level becomes a decision unless a cooldown holds it back (a member is prompted at most once per
thread per ``prompt_hours``; a thread gets at most one notice and one moderator alert per signal per
``notice_minutes`` / ``alert_minutes``; a long-form space is opened once per thread per
``prompt_hours``; a slowed thread is not slowed again). Every decision carries a reason and the
evidence. Prompt texts are the policy's templates, filled with names and numbers, and for a
personal attack with the author's own words that read as personal (never anyone else's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.ad_hominem import AdHominemFinding
from bot.core.decisions import (
    AlertModerators,
    Decision,
    Detection,
    Evidence,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptKind,
    PromptMember,
    SetSlowMode,
    Signal,
)
from bot.core.escalation import EscalationFinding, LongExchangeFinding
from bot.core.events import ConversationKey, MessagePosted
from bot.core.explain import quoted
from bot.core.forecast import ForecastFinding
from bot.core.pile_on import PileOnFinding
from bot.core.scoring import Scores
from bot.core.settings import ActionName, CooldownSettings, Level, Settings

Response = tuple[Detection, tuple[Decision, ...]]


class _Fill(dict[str, str]):
    """Template values; a placeholder this signal has no value for reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


_SIGNAL_NAMES = {
    Signal.PILE_ON: "Pile-on",
    Signal.AD_HOMINEM: "Personal attack",
    Signal.ESCALATION: "Escalation",
    Signal.LONG_EXCHANGE: "Long exchange",
    Signal.FORECAST: "Derailment forecast",
    Signal.ABSENT_INSULT: "Insult about someone absent",
}

# An insult about someone absent is scored at this (its alert's severity): noted, not urgent.
ABSENT_INSULT_SCORE = 0.5
_ABSENT_EXPLANATION = (
    "it insults someone who is not in the conversation, which is not an attack on a participant"
)


def ordinal(number: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def level_actions(levels: tuple[Level, ...], score: float) -> tuple[ActionName, ...]:
    """The actions of the highest level ``score`` reaches (none below the lowest)."""
    reached = [level for level in levels if score >= level.at]
    return max(reached, key=lambda level: level.at).actions if reached else ()


@dataclass(frozen=True, slots=True)
class _Context:
    """What every decision of one finding shares."""

    message: MessagePosted
    signal: Signal
    score: float
    reason: str
    evidence: Evidence
    settings: Settings

    @property
    def conversation(self) -> ConversationKey:
        return self.message.conversation

    @property
    def severity(self) -> int:
        return round(self.score * 100)


@dataclass(slots=True)
class _SlowMode:
    until: datetime
    message_id: str
    signal: Signal
    conversation: ConversationKey


def _horizons(now: datetime, cooldowns: CooldownSettings) -> dict[str, datetime]:
    """Per cooldown kind (a key's second part, as ``_decide`` makes it), the time before which a
    cooldown of that kind has run its course at ``now``; prompts and long-form spaces share one."""
    prompt = now - timedelta(hours=cooldowns.prompt_hours)
    return {"notice": now - timedelta(minutes=cooldowns.notice_minutes),
            "alert": now - timedelta(minutes=cooldowns.alert_minutes),
            "prompt": prompt, "longform": prompt}  # fmt: skip


# Signals whose public notices say the same thing, so that they share one cooldown.
_NOTICE_FAMILY = {Signal.FORECAST: Signal.LONG_EXCHANGE}


class Responder:
    """Turns findings into decisions and remembers the cooldowns and slow modes it set."""

    def __init__(self) -> None:
        self._last: dict[tuple[object, ...], datetime] = {}
        self._slowed: dict[ConversationKey, _SlowMode] = {}

    @property
    def size(self) -> int:
        """Cooldowns and slow modes remembered."""
        return len(self._last) + len(self._slowed)

    def ad_hominem(
        self,
        message: MessagePosted,
        finding: AdHominemFinding,
        scores: Scores,
        settings: Settings,
        words: tuple[str, ...] = (),
        claim: str | None = None,
    ) -> Response:
        """The detection and decisions for an attack on the person. ``words``: the author's words
        that read as personal (see ``bot.core.explain``), quoted in the prompt and the alert;
        ``claim``: the rest of the message, shown alone as worth posting (``bot.core.rephrase``)."""
        shown = quoted(words)
        values = _Fill({"author": message.author, "target": finding.target or "them",
                        "explanation": finding.explanation, "words": shown,
                        "quote": _quote(shown, finding.phrase),
                        "rephrase": _rephrase(claim, shown)})  # fmt: skip
        evidence = Evidence((message.id,), _evidence_scores(finding.score, scores, "ad_hominem"))
        reason = f"{message.author}'s reply: {finding.explanation} (cue: {finding.cue})."
        context = _Context(message, Signal.AD_HOMINEM, finding.score, reason, evidence, settings)
        detection = _detection(context, finding.target, finding.cue, finding.explanation, words)
        actions = level_actions(settings.ad_hominem.levels, finding.score)
        prompt = settings.prompts.ad_hominem_author.format_map(values)
        return detection, tuple(
            self._decide(context, actions, values, [(message.author, PromptKind.AD_HOMINEM_AUTHOR, prompt)],
                         notice=settings.prompts.ad_hominem_notice.format_map(values))
        )  # fmt: skip

    def absent_insult(
        self, message: MessagePosted, words: tuple[str, ...], settings: Settings
    ) -> Response:
        """An insult about someone not in the conversation (``[ad_hominem] alert_absent``): a
        moderator alert and nothing else, since no participant was attacked. ``words``: the
        insult as written, quoted in the alert."""
        values = _Fill({"author": message.author, "explanation": _ABSENT_EXPLANATION,
                        "words": quoted(words)})  # fmt: skip
        evidence = Evidence((message.id,), (("absent_insult", ABSENT_INSULT_SCORE),))
        reason = f"{message.author}'s message: {_ABSENT_EXPLANATION}."
        context = _Context(
            message, Signal.ABSENT_INSULT, ABSENT_INSULT_SCORE, reason, evidence, settings
        )
        detection = _detection(context, None, "insult about someone absent",
                               _ABSENT_EXPLANATION, words)  # fmt: skip
        return detection, tuple(self._decide(context, ("alert_moderators",), values, [], ""))

    def pile_on(
        self, message: MessagePosted, finding: PileOnFinding, settings: Settings
    ) -> Response:
        """The detection and decisions for a pile-on, including a late joiner's prompt."""
        minutes = max(1, round((message.at - finding.first_at).total_seconds() / 60))
        window = minutes_text(finding.window_minutes)
        values = _Fill({"author": message.author, "target": finding.target,
                  "count": str(len(finding.authors)), "minutes": str(minutes),
                  "duration": minutes_text(minutes), "window": window,
                  "position": ordinal(finding.position)})  # fmt: skip
        newcomers = (
            f", {finding.newcomers} of them new to the thread or community"
            if finding.newcomers
            else ""
        )
        explanation = (
            f"{len(finding.authors)} different members replied to {finding.target} within "
            f"{minutes_text(minutes)}{newcomers}"
        )
        evidence = Evidence(finding.evidence, (("pile_on", finding.score),))
        reason = f"{explanation} (pile-on window: {window})."
        context = _Context(message, Signal.PILE_ON, finding.score, reason, evidence, settings)
        detection = _detection(context, finding.target, "converging replies", explanation)
        prompts: list[tuple[str, PromptKind, str]] = []
        if settings.pile_on.prompt_target:
            text = settings.prompts.pile_on_target.format_map(values)
            prompts.append((finding.target, PromptKind.PILE_ON_TARGET, text))
        if settings.pile_on.prompt_late_joiners and finding.late_joiner:
            text = settings.prompts.late_joiner.format_map(values)
            prompts.append((message.author, PromptKind.LATE_JOINER, text))
        actions = level_actions(settings.pile_on.levels, finding.score)
        if settings.pile_on.alert_on_start and not finding.late_joiner:
            actions = tuple(dict.fromkeys((*actions, "alert_moderators")))
        notice = settings.prompts.pile_on_notice.format_map(values)
        return detection, tuple(self._decide(context, actions, values, prompts, notice=notice))

    def escalation(
        self, message: MessagePosted, finding: EscalationFinding, settings: Settings
    ) -> Response:
        """The detection and decisions for a thread heating up."""
        explanation = "the thread is heating up, driven by " + _listed(finding.participants[:4])
        if len(finding.participants) > 1:
            explanation += " (most first)"
        evidence = Evidence(finding.evidence, (("heat", finding.score),))
        context = _Context(
            message, Signal.ESCALATION, finding.score, explanation + ".", evidence, settings
        )
        detection = _detection(context, None, "rising heat", explanation)
        values = _Fill({"author": message.author, "explanation": explanation})
        actions = level_actions(settings.escalation.levels, finding.score)
        notice = settings.prompts.escalation_notice.format_map(values)
        return detection, tuple(self._decide(context, actions, values, [], notice=notice))

    def long_exchange(
        self, message: MessagePosted, finding: LongExchangeFinding, settings: Settings
    ) -> Response:
        """A gentle offer of long form; never a moderator alert."""
        first, second = finding.pair
        explanation = f"{first} and {second} have exchanged {finding.turns} civil turns"
        evidence = Evidence(finding.evidence, (("turns", float(finding.turns)),))
        context = _Context(
            message, Signal.LONG_EXCHANGE, 0.5, explanation + ".", evidence, settings
        )
        other = second if message.author == first else first
        detection = _detection(context, other, "long civil exchange", explanation)
        values = _Fill({"author": message.author, "target": other, "explanation": explanation})
        notice = settings.prompts.long_exchange_offer.format_map(values)
        actions: tuple[ActionName, ...] = (settings.long_exchange.action,)
        return detection, tuple(self._decide(context, actions, values, [], notice=notice))

    def forecast(
        self, message: MessagePosted, finding: ForecastFinding, settings: Settings
    ) -> Response:
        """A gentle offer before an exchange derails (a notice or a long-form space)."""
        opener, author = finding.pair
        signs = " and ".join(finding.signs)
        explanation = (
            f"the exchange between {opener} and {author} is narrowing to two people, with "
            f"{signs}; a slower format often helps"
        )
        evidence = Evidence(finding.evidence, (("forecast", finding.score),))
        context = _Context(
            message, Signal.FORECAST, finding.score, explanation + ".", evidence, settings
        )
        detection = _detection(context, opener, "heading for a personal attack", explanation)
        values = _Fill({"author": author, "target": opener, "explanation": explanation})
        actions = level_actions(settings.forecast.levels, finding.score)
        notice = settings.prompts.forecast_notice.format_map(values)
        return detection, tuple(self._decide(context, actions, values, [], notice=notice))

    def due_lifts(self, now: datetime) -> Iterator[LiftSlowMode]:
        """Lift every slow mode whose time is up (each exactly once)."""
        for key in [key for key, slow in self._slowed.items() if slow.until <= now]:
            slow = self._slowed.pop(key)
            yield LiftSlowMode(
                conversation=slow.conversation, message_id=slow.message_id, at=slow.until,
                signal=slow.signal, reason="The slow mode Longform set has run its course.",
                evidence=Evidence((slow.message_id,)),
            )  # fmt: skip

    def expire(
        self, now: datetime, cooldowns_of: Callable[[str], CooldownSettings] | None = None
    ) -> None:
        """Forget each cooldown once its own length has passed (``cooldowns_of``: a channel's
        cooldown settings, those ``_ready`` checks against); without it, after a day.

        Forgetting a key whose time is up changes nothing: ``_ready`` would let it fire again
        anyway (under the settings in force now). A prompt's 12 h no longer keeps a 30-minute
        alert's key for a day, which grew the memory with every thread an alert ever fired in.
        """
        default = now - timedelta(days=1)
        horizons: dict[str, dict[str, datetime]] = {}  # per channel: kind -> forget before this
        expired = []
        for key, at in self._last.items():
            conversation, kind = key[0], key[1]
            if cooldowns_of is None or not isinstance(conversation, ConversationKey):
                horizon = default
            else:
                channel = conversation.channel
                of_channel = horizons.get(channel)
                if of_channel is None:
                    of_channel = horizons[channel] = _horizons(now, cooldowns_of(channel))
                horizon = of_channel.get(str(kind), of_channel["prompt"])
            if at < horizon:  # (at exactly its length it is ready anyway: kept a sweep more)
                expired.append(key)
        for key in expired:
            del self._last[key]

    # -- internals --------------------------------------------------------------------------

    def _decide(
        self,
        context: _Context,
        actions: tuple[ActionName, ...],
        values: _Fill,
        prompts: list[tuple[str, PromptKind, str]],
        notice: str,
    ) -> Iterator[Decision]:
        cooldowns = context.settings.cooldowns
        at = context.message.at
        for action in actions:
            if action == "private_prompt":
                for member, kind, text in prompts:
                    key = (context.conversation, "prompt", member)
                    if self._ready(key, at, timedelta(hours=cooldowns.prompt_hours)):
                        yield PromptMember(*_base(context), member=member, kind=kind, text=text,
                                           severity=context.severity)  # fmt: skip
            elif action == "notice":
                # A forecast and a long exchange both offer the two members long form: one
                # offer per cooldown, whichever comes first (prompts are rare, never spam).
                family = _NOTICE_FAMILY.get(context.signal, context.signal)
                key = (context.conversation, "notice", family)
                if self._ready(key, at, timedelta(minutes=cooldowns.notice_minutes)):
                    yield PostNotice(*_base(context), text=notice, offers_longform=True,
                                     severity=context.severity)  # fmt: skip
            elif action == "alert_moderators":
                key = (context.conversation, "alert", context.signal)
                if self._ready(key, at, timedelta(minutes=cooldowns.alert_minutes)):
                    yield AlertModerators(*_base(context), text=self._alert_text(context, values),
                                          severity=context.severity)  # fmt: skip
            elif action == "slow_mode":
                slow = self._slow_mode(context)
                if slow is not None:
                    yield slow
            elif action == "open_longform":
                key = (context.conversation, "longform", "")
                if self._ready(key, at, timedelta(hours=cooldowns.prompt_hours)):
                    yield self._longform(context)

    def _ready(self, key: tuple[object, ...], at: datetime, cooldown: timedelta) -> bool:
        """True (and the cooldown starts) unless ``key`` fired within ``cooldown`` before ``at``."""
        last = self._last.get(key)
        if last is not None and at - last < cooldown:
            return False
        self._last[key] = at
        return True

    def _slow_mode(self, context: _Context) -> SetSlowMode | None:
        if context.conversation in self._slowed:
            return None
        slow = context.settings.slow_mode
        until = context.message.at + timedelta(minutes=slow.minutes)
        self._slowed[context.conversation] = _SlowMode(
            until, context.message.id, context.signal, context.conversation
        )
        return SetSlowMode(*_base(context), seconds=slow.seconds, until=until,
                           severity=context.severity)  # fmt: skip

    @staticmethod
    def _longform(context: _Context) -> OpenLongformSpace:
        longform = context.settings.longform
        topic = context.conversation.thread or context.conversation.channel
        title = longform.title.format_map(_Fill({"topic": topic}))
        text = (
            "This conversation deserves more room. Each participant is invited to write: "
            + "; ".join(longform.template)
            + "."
        )
        return OpenLongformSpace(
            *_base(context), title=title, template=longform.template,
            participants=(context.message.author,), key_messages=context.evidence.message_ids,
            text=text, severity=context.severity,
        )  # fmt: skip

    @staticmethod
    def _alert_text(context: _Context, values: _Fill) -> str:
        template = context.settings.prompts.moderator_alert
        filled = _Fill({**values, "signal": _SIGNAL_NAMES[context.signal],
                  "place": context.conversation.place,
                  "explanation": context.reason.rstrip(".")})  # fmt: skip
        evidence = ", ".join(context.evidence.message_ids[:8])
        # The words the judgement rests on, so that a moderator can check it at a glance.
        words = f"words: {values['words']}; " if values.get("words") else ""
        return (
            f"{template.format_map(filled)} ({words}score {context.score:.2f}; "
            f"messages: {evidence})"
        )


def _base(context: _Context) -> tuple[ConversationKey, str, datetime, Signal, str, Evidence]:
    return (context.conversation, context.message.id, context.message.at, context.signal,
            context.reason, context.evidence)  # fmt: skip


def _detection(
    context: _Context, target: str | None, cue: str, explanation: str, words: tuple[str, ...] = ()
) -> Detection:
    return Detection(
        signal=context.signal, message_id=context.message.id, conversation=context.conversation,
        at=context.message.at, target=target, score=context.score, evidence=context.evidence,
        cue=cue, explanation=explanation, words=words,
    )  # fmt: skip


def _quote(shown: str, phrase: str) -> str:
    """How a prompt names the words: a rule cue's span is what fired; a model judged the whole
    reply, and the words shown only weighed most in it."""
    if not shown:
        return "your reply"
    return f"your words {shown}" if phrase else f"your reply (above all the words {shown})"


def _rephrase(claim: str | None, shown: str) -> str:
    """The claim on its own, when one remains beside the personal words (never invented)."""
    if claim is None or not shown:
        return "Would you rephrase it around the claim?"
    return f"Your point, \u201c{claim}\u201d, stands on its own; {shown} is what reads as personal."


def minutes_text(minutes: float) -> str:
    """1 -> "1 minute", 6 -> "6 minutes", 2.5 -> "2.5 minutes"."""
    return f"{minutes:g} minute" + ("" if minutes == 1 else "s")


def _listed(names: tuple[str, ...]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _evidence_scores(score: float, scores: Scores, name: str) -> tuple[tuple[str, float], ...]:
    kept = {key: round(value, 4) for key, value in scores.items() if value >= 0.05}
    kept[name] = score
    return tuple(sorted(kept.items()))
