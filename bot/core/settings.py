"""The policy as the engine sees it: typed, frozen, with a description beside every knob.

``bot.policy`` reads TOML into these types (pydantic validates them directly, forbidding unknown
keys); the core only reads them. Scores are on a 0..1 scale throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

from annotated_types import Ge, Gt, Interval

Unit = Annotated[float, Interval(ge=0.0, le=1.0)]
Positive = Annotated[float, Gt(0)]
ActionName = Literal["notice", "private_prompt", "slow_mode", "open_longform", "alert_moderators"]
Mode = Literal["shadow", "live"]

# Unknown keys in any table are errors (read by pydantic; no import needed here).
_STRICT: Final[dict[str, Any]] = {"extra": "forbid"}


def knob(default: Any, doc: str) -> Any:
    """A policy setting with its default and the sentence ``check-policy`` prints beside it."""
    if isinstance(default, type):
        return field(default_factory=default, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True, slots=True)
class Level:
    """From score ``at`` upwards, take ``actions`` (the highest level reached wins)."""

    __pydantic_config__ = _STRICT
    at: Unit = knob(0.5, "score from which this level applies")
    actions: tuple[ActionName, ...] = knob((), "what to do at this level")


@dataclass(frozen=True, slots=True)
class AdHominemSettings:
    __pydantic_config__ = _STRICT
    detect_at: Unit = knob(0.55, "score from which a message counts as an attack on the person")
    levels: tuple[Level, ...] = knob(
        (Level(0.55, ("private_prompt",)), Level(0.8, ("private_prompt", "alert_moderators"))),
        "actions by score; private_prompt goes to the author",
    )
    alert_absent: bool = knob(
        False,
        "alert moderators (only them: never a prompt or a notice) about an insult aimed at "
        'someone not in the conversation ("he\'s an idiot", "the minister is a moron"), which '
        "is not an attack on a participant",
    )


@dataclass(frozen=True, slots=True)
class PileOnSettings:
    __pydantic_config__ = _STRICT
    window_minutes: Positive = knob(15.0, "how far back replies and mentions of one target count")
    min_authors: Annotated[int, Ge(3)] = knob(4, "distinct members needed, the target not counted")
    min_pointed: Annotated[int, Ge(1)] = knob(
        1,
        "of them, members whose reply is hostile or aimed at the person, not a question or plain "
        "disagreement: many repliers alone are a busy thread, not a pile-on",
    )
    detect_at: Unit = knob(0.5, "pressure score from which a pile-on is detected")
    full_pressure: Positive = knob(4.0, "summed per-author pressure that scores 1.0")
    newcomer_hours: Annotated[float, Ge(0)] = knob(72.0, "joined this recently: a newcomer")
    newcomer_weight: Annotated[float, Ge(1)] = knob(1.5, "pressure multiplier for newcomers")
    prompt_target: bool = knob(True, "privately check in with the member being piled on")
    prompt_late_joiners: bool = knob(True, "privately tell later repliers how many came before")
    alert_on_start: bool = knob(
        True,
        "alert moderators when a pile-on starts (how many members, within which window), "
        "whatever the levels say; in shadow mode alerts are all that reach anyone, so without "
        "this moderators hear of a pile-on only at the alerting level",
    )
    levels: tuple[Level, ...] = knob(
        (
            Level(0.5, ("notice", "private_prompt")),
            Level(0.75, ("notice", "private_prompt", "slow_mode", "alert_moderators")),
        ),
        "actions by pressure score",
    )


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    __pydantic_config__ = _STRICT
    half_life_minutes: Positive = knob(20.0, "how fast a conversation's heat cools down")
    detect_at: Unit = knob(0.6, "heat score from which the conversation counts as escalating")
    full_heat: Positive = knob(3.0, "accumulated heat that scores 1.0")
    min_messages: Annotated[int, Ge(2)] = knob(4, "messages in the heat window before judging")
    levels: tuple[Level, ...] = knob(
        (
            Level(0.6, ("notice",)),
            Level(0.8, ("notice", "open_longform", "slow_mode", "alert_moderators")),
        ),
        "actions by heat score",
    )


@dataclass(frozen=True, slots=True)
class LongExchangeSettings:
    __pydantic_config__ = _STRICT
    enabled: bool = knob(True, "gently offer long form to a long civil back-and-forth")
    min_turns: Annotated[int, Interval(ge=4, le=32)] = knob(
        8, "alternating turns between the same two members"
    )
    within_minutes: Positive = knob(60.0, "the turns must fall within this span")
    max_hostility: Unit = knob(0.35, "above this it is escalation, not a civil exchange")
    action: Literal["notice", "open_longform"] = knob(
        "notice", "offer with a notice, or open the space directly (never alerts moderators)"
    )


@dataclass(frozen=True, slots=True)
class ForecastSettings:
    __pydantic_config__ = _STRICT
    enabled: bool = knob(True, "forecast derailment from an exchange's wording, before any attack")
    detect_at: Unit = knob(
        0.65, "forecast probability from which a forecast is detected (0.5: even odds)"
    )
    cooldown_minutes: Positive = knob(
        240.0, "after a forecast, none again in the same conversation for N min"
    )
    levels: tuple[Level, ...] = knob(
        (Level(0.85, ("notice",)),),
        "actions by forecast score: notice or open_longform; alert_moderators only beside one",
    )


@dataclass(frozen=True, slots=True)
class CooldownSettings:
    __pydantic_config__ = _STRICT
    prompt_hours: Positive = knob(12.0, "at most one private prompt per member per thread per N h")
    notice_minutes: Positive = knob(60.0, "at most one notice per thread and signal per N min")
    alert_minutes: Positive = knob(30.0, "at most one moderator alert per thread and signal")


@dataclass(frozen=True, slots=True)
class SlowModeSettings:
    __pydantic_config__ = _STRICT
    seconds: Annotated[int, Interval(ge=1, le=21600)] = knob(60, "one message per member per N s")
    minutes: Positive = knob(20.0, "how long slow mode lasts before it is lifted")
    emulation: Literal["", "restrict", "ask_admins"] = knob(
        "",
        "Telegram only (bots cannot set slow mode): 'restrict' pauses each participant for "
        "`seconds` (at least 30) after every message, 'ask_admins' asks the moderators to set it; "
        "'' leaves it to the config's [telegram] slow_mode",
    )


@dataclass(frozen=True, slots=True)
class LongformSettings:
    __pydantic_config__ = _STRICT
    title: str = knob("Long form: {topic}", "title of the space; {topic} is the thread's name")
    template: tuple[str, ...] = knob(
        (
            "My claim",
            "My evidence",
            "What would change my mind",
            "A question for the other side",
        ),
        "sections each participant is invited to fill in",
    )
    tags: tuple[str, ...] = knob(("long-form",), "forum tags for the space (at most 5)")
    slow_mode_seconds: Annotated[int, Interval(ge=0, le=21600)] = knob(
        300, "slow mode inside the long-form space"
    )
    ask_consent: bool = knob(False, "offer first; open only when a participant accepts")


@dataclass(frozen=True, slots=True)
class PromptTexts:
    """Templates. Placeholders: {target} {author} {count} {minutes} (a number) {duration} ("1
    minute", "6 minutes") {window} {position} {explanation}, and for a personal attack {words}
    (the author's words that read as personal, quoted) and {quote} ('your words "..."' for a
    rule's cue, 'your reply (above all the words "...")' for a model's judgement of the whole
    reply, 'your reply' when there are none) and {rephrase} (the claim shown on its own when one
    remains, see ``bot.core.rephrase``; else an invitation to rephrase around the claim);
    ``moderator_alert`` also {signal} and {place}."""

    __pydantic_config__ = _STRICT
    pile_on_notice: str = knob(
        "A lot of replies are arriving at once here. Slower, structured replies tend to go "
        "further: you can continue in long form.",
        "public notice in the thread when a pile-on starts (best without naming the target)",
    )
    pile_on_target: str = knob(
        "Hi {target}, {count} people have replied to you in the last {duration}. You "
        "don't have to answer everyone now; a long-form space can hold this at your pace.",
        "private check-in with the member being piled on",
    )
    late_joiner: str = knob(
        "Hi {author}, you are the {position} person replying to {target} in {duration}. "
        "If your point is already made, consider adding to the long-form space instead.",
        "private note to a member who joins a pile-on late",
    )
    ad_hominem_author: str = knob(
        "Hi {author}, {quote} may read as being about {target} rather than their point "
        "({explanation}). {rephrase}",
        "private note to the author of a personal attack",
    )
    ad_hominem_notice: str = knob(
        "A reminder for everyone here: disagree with claims and evidence as sharply as you like, "
        "but keep it about the ideas, not the people.",
        "public notice after a personal attack (it never names the author)",
    )
    escalation_notice: str = knob(
        "This thread is heating up. A pause, or a move to long form, may help everyone be heard.",
        "public notice when a thread escalates",
    )
    long_exchange_offer: str = knob(
        "{author} and {target}, this is a substantial exchange. Want to continue it in long "
        "form, where there is room for claims and evidence?",
        "gentle public offer to a long civil back-and-forth",
    )
    moderator_alert: str = knob(
        "{signal} in {place}: {explanation}", "summary line of a moderator alert"
    )
    forecast_notice: str = knob(
        "{target} and {author}, this exchange is narrowing to the two of you. A slower format "
        "often helps: want to continue in long form, with room for claims and evidence?",
        "gentle public offer when an exchange looks headed for a personal attack",
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a channel override may change."""

    __pydantic_config__ = _STRICT
    exempt_roles: tuple[str, ...] = knob(
        (), "members with these roles are never judged or prompted"
    )
    ad_hominem: AdHominemSettings = knob(AdHominemSettings, "attacks on the person")
    pile_on: PileOnSettings = knob(PileOnSettings, "many members converging on one")
    escalation: EscalationSettings = knob(EscalationSettings, "a thread heating up")
    long_exchange: LongExchangeSettings = knob(
        LongExchangeSettings, "long civil two-person exchanges"
    )
    forecast: ForecastSettings = knob(
        ForecastSettings, "early warning: an exchange heading for a personal attack"
    )
    cooldowns: CooldownSettings = knob(CooldownSettings, "how rarely anything is repeated")
    slow_mode: SlowModeSettings = knob(SlowModeSettings, "slow mode when a level asks for it")
    longform: LongformSettings = knob(LongformSettings, "the structured long-form space")
    prompts: PromptTexts = knob(PromptTexts, "what members and moderators read")


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """Bounds on what the engine remembers, so memory stays flat however long it runs."""

    __pydantic_config__ = _STRICT
    message_hours: Positive = knob(24.0, "how long a message's author and scores are remembered")
    max_messages: Annotated[int, Ge(100)] = knob(100_000, "most messages remembered at once")
    idle_conversation_hours: Positive = knob(6.0, "a conversation idle this long is forgotten")


@dataclass(frozen=True, slots=True)
class ExperimentSettings:
    """The built-in controlled experiment (``[experiment]``): see ``bot.core.holdback`` and
    ``bot.core.outcomes``. Applies to the whole policy, not per channel."""

    __pydantic_config__ = _STRICT
    holdback: Unit = knob(
        0.0,
        "share of eligible interventions not sent and recorded as the control group (0.1 = one "
        "in ten); moderator alerts and requested actions are never held back, and a member is "
        "never told; 0 measures outcomes with no control group",
    )
    salt: str = knob(
        "",
        "mixed with each community's id to choose the held-back share; change it to draw a new "
        "control group (a replay with the same salt holds back the same interventions)",
    )
    edit_minutes: Positive = knob(
        10.0, "an author's edit within this many minutes of a prompt counts as a response"
    )
    window_minutes: Annotated[float, Interval(ge=60.0, le=720.0)] = knob(
        60.0, "how long after an intervention its outcomes are measured (60 to 720)"
    )


@dataclass(frozen=True, slots=True)
class Policy:
    """A complete, validated policy: defaults plus per-channel effective settings."""

    name: str = "default"
    mode: Mode = "shadow"
    schema_version: int = 1
    description: str = ""
    settings: Settings = field(default_factory=Settings)
    channels: tuple[tuple[str, Settings], ...] = ()
    memory: MemorySettings = field(default_factory=MemorySettings)
    experiment: ExperimentSettings = field(default_factory=ExperimentSettings)

    def for_channel(self, channel: str) -> Settings:
        """The effective settings in ``channel``: its override if it has one, else the defaults."""
        for channel_id, settings in self.channels:
            if channel_id == channel:
                return settings
        return self.settings
