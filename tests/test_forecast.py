"""The derailment forecast: the detector on hand-written conversations, and its place in the engine."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.decisions import AlertModerators, OpenLongformSpace, PostNotice, Signal
from bot.core.engine import Engine
from bot.core.forecast import (
    ForecastDetector,
    ForecastModel,
    Vector,
    exchange_features,
    shipped_model,
    turn_vector,
)
from bot.core.language import turn_markers
from bot.core.settings import ForecastSettings, Level, Policy, Settings
from bot.policy.loader import PolicyError, load_policy, parse_policy
from tests.builders import MIN, T0, message

SHIPPED = shipped_model()
DEFAULTS = ForecastSettings()

# Heading for a derailment, though nobody is attacked yet: the reply opens on "you" and aims a
# direct question at one person.
DERAILING = (
    ("ana", "Hi, thanks for the write-up. I think the dosing figures might be a little off, "
            "perhaps check the 2019 trial?"),
    ("ben", "You keep posting this, so please answer one thing: which trial are you citing?"),
)  # fmt: skip
# Staying civil: hedges, gratitude and warmth on both sides.
CIVIL = (
    ("ana", "Hi, thanks for the write-up. I think the dosing figures might be a little off, "
            "perhaps check the 2019 trial?"),
    ("ben", "Thanks, good point. I suppose the 2019 trial is the better source, I'll update "
            "the table. Appreciate it!"),
)  # fmt: skip


def _vector(text: str) -> Callable[[], Vector]:
    return lambda: turn_vector(text, 0.0, 0.0)  # no scorer: the markers alone


def _feed(detector: ForecastDetector, turns: tuple[tuple[str, str], ...], **kw: object) -> list:
    found = []
    for index, (author, text) in enumerate(turns):
        answering = (turns[index - 1][0],) if index else ()  # each message replies to the last
        finding = detector.add(
            T0 + index * MIN, author, f"m{index}", _vector(text), kw.get("model", SHIPPED), DEFAULTS,
            answering,
        )  # fmt: skip
        found.append(finding)
    return found


def test_markers_read_questions_you_framing_and_courtesies() -> None:
    opener, reply = turn_markers(DERAILING[0][1]), turn_markers(DERAILING[1][1])
    assert opener.greeting
    assert opener.gratitude
    assert opener.hedge
    assert opener.polite
    assert not opener.direct_question  # a question about the trial, not about "you"
    assert reply.direct_question
    assert reply.you_start
    assert reply.second_person
    assert reply.please
    assert reply.polite
    assert turn_markers("You always say that").you_start
    assert turn_markers("Thaaanks, sorry for the delay").gratitude  # stretched spellings count
    assert turn_markers("> thanks, I think\nno.").polite is False  # quoted words are not theirs


def test_a_derailing_exchange_is_forecast_at_the_reply() -> None:
    findings = _feed(ForecastDetector(), DERAILING)
    assert findings[0] is None
    finding = findings[1]
    assert finding is not None
    assert finding.score >= DEFAULTS.detect_at
    assert finding.pair == ("ana", "ben")
    assert finding.evidence == ("m0", "m1")
    assert set(finding.signs) == {
        "replies that open on 'you'",
        "direct questions aimed at one person",
    }


def test_a_civil_exchange_is_not_forecast() -> None:
    findings = _feed(ForecastDetector(), CIVIL)
    assert findings == [None, None]
    score = SHIPPED.probability(
        exchange_features(turn_vector(CIVIL[0][1], 0, 0), turn_vector(CIVIL[1][1], 0, 0))
    )
    assert score < 0.5


def test_rising_fast_tier_scores_raise_the_forecast() -> None:
    opener = turn_vector(DERAILING[0][1], 0.0, 0.0)
    calm = SHIPPED.probability(exchange_features(opener, turn_vector(CIVIL[1][1], 0.0, 0.0)))
    hot = SHIPPED.probability(exchange_features(opener, turn_vector(CIVIL[1][1], 0.9, 0.6)))
    assert hot > calm


def test_the_fast_score_equals_the_score_of_the_named_features() -> None:
    for opener, reply in [(DERAILING[0][1], DERAILING[1][1]), (CIVIL[0][1], CIVIL[1][1])]:
        for attack in (0.0, 0.3, 0.9):
            o, r = turn_vector(opener, attack / 2, 0.1), turn_vector(reply, attack, attack / 3)
            named = SHIPPED.probability(exchange_features(o, r))
            assert SHIPPED.exchange_probability(o, r) == pytest.approx(named, abs=1e-12)


def test_a_crowded_message_costs_no_analysis() -> None:
    detector, asked = ForecastDetector(), []

    def counted(text: str) -> Callable[[], Vector]:
        return lambda: asked.append(text) or turn_vector(text, 0.0, 0.0)

    for index, author in enumerate(["a", "b", "c", "d"]):
        detector.add(T0 + index * MIN, author, f"m{index}", counted(author), SHIPPED, DEFAULTS)
    assert asked == ["a", "b"]  # from the third person on, no exchange could use the vector


def test_the_final_message_is_not_needed() -> None:
    attack = ("ana", "You are an idiot and everyone here knows it.")
    before = _feed(ForecastDetector(), DERAILING)
    with_attack = _feed(ForecastDetector(), (*DERAILING, attack))
    assert before[1] is not None
    assert with_attack[1] == before[1]


def test_the_forecast_is_deterministic() -> None:
    assert _feed(ForecastDetector(), DERAILING) == _feed(ForecastDetector(), DERAILING)


def test_one_author_and_crowds_get_no_forecast() -> None:
    alone = _feed(ForecastDetector(), tuple(("ana", text) for _, text in DERAILING))
    assert alone == [None, None]
    crowd = (("cy", "Anyone else here?"), ("dee", "Yes."), *DERAILING)
    assert _feed(ForecastDetector(), crowd)[-1] is None  # four messages, four people


def test_the_forecast_speaks_once_per_cooldown() -> None:
    detector = ForecastDetector()
    turns = DERAILING * 4
    findings = [f for f in _feed(detector, turns) if f is not None]
    assert len(findings) == 1
    later = T0 + (DEFAULTS.cooldown_minutes + 10) * MIN
    vectors = [_vector(text) for _, text in DERAILING]
    detector.add(later, "ana", "x0", vectors[0], SHIPPED, DEFAULTS)
    assert detector.add(later + MIN, "ben", "x1", vectors[1], SHIPPED, DEFAULTS, ("ana",))


def test_no_sign_to_name_means_no_forecast() -> None:
    eager = ForecastModel(5.0, {})  # would score everything near 1.0, but names no sign
    assert _feed(ForecastDetector(), DERAILING, model=eager) == [None, None]


def test_a_deleted_opener_opens_no_exchange() -> None:
    detector = ForecastDetector()
    vectors = [_vector(text) for _, text in DERAILING]
    detector.add(T0, "ana", "m0", vectors[0], SHIPPED, DEFAULTS)
    detector.forget("m0")
    assert detector.add(T0 + MIN, "ben", "m1", vectors[1], SHIPPED, DEFAULTS, ("ana",)) is None


def test_two_members_answering_a_third_are_not_an_exchange() -> None:
    vectors = [_vector(text) for _, text in DERAILING]
    detector = ForecastDetector()
    detector.add(T0, "ana", "m0", vectors[0], SHIPPED, DEFAULTS, ("cy",))
    assert detector.add(T0 + MIN, "ben", "m1", vectors[1], SHIPPED, DEFAULTS, ("cy",)) is None
    # Naming no one, two messages are not yet a back-and-forth.
    quiet = ForecastDetector()
    quiet.add(T0, "ana", "m0", vectors[0], SHIPPED, DEFAULTS)
    assert quiet.add(T0 + MIN, "ben", "m1", vectors[1], SHIPPED, DEFAULTS) is None


_TEXTS = [text for _, text in DERAILING + CIVIL] + ["ok", "Why?", "You sure?", "thanks!"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(_TEXTS)), max_size=24))
def test_findings_respect_narrowing_cooldown_and_range(turns: list[tuple[str, str]]) -> None:
    detector = ForecastDetector()
    spoken: list[int] = []
    for index, (author, text) in enumerate(turns):
        answering = (turns[index - 1][0],) if index else ()
        finding = detector.add(
            T0 + index * MIN, author, f"m{index}", _vector(text), SHIPPED, DEFAULTS, answering
        )
        if finding is not None:
            assert DEFAULTS.detect_at <= finding.score <= 1.0
            assert len({a for a, _ in turns[max(0, index - 3) : index + 1]}) <= 2
            assert finding.pair[0] != finding.pair[1]
            assert finding.signs
            spoken.append(index)
    assert all(b - a >= DEFAULTS.cooldown_minutes for a, b in itertools.pairwise(spoken))


# -- the engine and the policy ------------------------------------------------------------------


def _engine(forecast: ForecastSettings = DEFAULTS) -> Engine:
    return Engine(Policy(settings=Settings(forecast=forecast)))


def _replay(engine: Engine) -> list:
    return [
        engine.feed(message(author, text, T0 + index * MIN,
                            reply_to_author=DERAILING[index - 1][0] if index else None))
        for index, (author, text) in enumerate(DERAILING)
    ]  # fmt: skip


def test_the_engine_reports_a_forecast_and_offers_long_form_without_alerting() -> None:
    steps = _replay(_engine())
    detections = [d for d in steps[1].detections if d.signal is Signal.FORECAST]
    assert len(detections) == 1
    assert detections[0].target == "ana"
    assert "narrowing to two people" in detections[0].explanation
    notices = [a for a in steps[1].actions if isinstance(a, PostNotice)]
    assert [n.signal for n in notices] == [Signal.FORECAST]
    assert notices[0].offers_longform
    assert "ana and ben" in notices[0].text
    assert "slower format often helps" in notices[0].reason
    assert not [a for step in steps for a in step.actions if isinstance(a, AlertModerators)]
    assert not [d for d in steps[1].detections if d.signal is Signal.AD_HOMINEM]


def test_the_policy_can_open_long_form_or_switch_the_forecast_off() -> None:
    opening = replace(DEFAULTS, levels=(Level(0.7, ("open_longform",)),))
    actions = _replay(_engine(opening))[1].actions
    assert [type(a) for a in actions if a.signal is Signal.FORECAST] == [OpenLongformSpace]
    off = _replay(_engine(replace(DEFAULTS, enabled=False)))
    assert not [d for step in off for d in step.detections if d.signal is Signal.FORECAST]
    high = _replay(_engine(replace(DEFAULTS, detect_at=0.999)))
    assert not [d for step in high for d in step.detections if d.signal is Signal.FORECAST]


def test_policy_rejects_a_forecast_that_only_alerts_moderators() -> None:
    raw = {"forecast": {"levels": [{"at": 0.7, "actions": ["alert_moderators"]}]}}
    with pytest.raises(PolicyError, match=r"forecast\.levels\[0\]\.actions: a forecast may not"):
        parse_policy(raw, Path("p.toml"))
    beside = {"forecast": {"levels": [{"at": 0.7, "actions": ["notice", "alert_moderators"]}]}}
    assert parse_policy(beside, Path("p.toml")).settings.forecast.levels[0].actions == (
        "notice",
        "alert_moderators",
    )
    override = {"channels": {"c1": raw}}
    with pytest.raises(PolicyError, match=r'channels\."c1".*forecast\.levels\[0\]'):
        parse_policy(override, Path("p.toml"))


def test_policy_rejects_prompts_and_slow_mode_for_a_forecast() -> None:
    raw = {"forecast": {"levels": [{"at": 0.7, "actions": ["private_prompt", "slow_mode"]}]}}
    with pytest.raises(PolicyError, match="'private_prompt' is not allowed here") as error:
        parse_policy(raw, Path("p.toml"))
    assert "'slow_mode' is not allowed here" in str(error.value)
    with pytest.raises(PolicyError, match=r"forecast\.treshold: unknown key"):
        parse_policy({"forecast": {"treshold": 0.5}}, Path("p.toml"))


@pytest.mark.parametrize("preset", ["gentle", "professional", "strict"])
def test_presets_map_the_forecast_to_offers_never_alerts(preset: str) -> None:
    forecast = load_policy(preset).settings.forecast
    assert forecast.enabled
    assert forecast.levels
    for level in forecast.levels:
        assert "alert_moderators" not in level.actions
        assert level.actions
        assert set(level.actions) <= {"notice", "open_longform"}


def test_a_forecast_below_every_level_is_detected_but_offers_nothing() -> None:
    quiet = replace(DEFAULTS, levels=(Level(0.999, ("notice",)),))
    steps = _replay(_engine(quiet))
    assert [d.signal for d in steps[1].detections if d.signal is Signal.FORECAST] == [
        Signal.FORECAST
    ]
    assert not [a for step in steps for a in step.actions if a.signal is Signal.FORECAST]


@pytest.mark.parametrize("preset", ["gentle", "professional", "strict"])
def test_presets_detect_forecasts_before_they_notice_members(preset: str) -> None:
    forecast = load_policy(preset).settings.forecast
    assert forecast.detect_at <= min(level.at for level in forecast.levels)
    assert forecast.detect_at <= 0.7  # the early warning warns: CV accuracy falls below 0.66 above
