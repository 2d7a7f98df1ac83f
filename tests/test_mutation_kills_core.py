"""Core behaviours that mutation testing (issue 18) found no test stating: the model's word floor,
the forecast's choice of score, restoring with a forecast model, the policy's prompt placeholders,
the evidence each detection names, pickling of events and decisions, and the aligned
normalisation that quotes an author's own spelling back.

Each test states a behaviour a member or moderator relies on; none asserts shipped wording (the
templates are the test's own).
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.core.ad_hominem import AdHominemDetector
from bot.core.decisions import (
    AlertModerators,
    Decision,
    Detection,
    Evidence,
    OpenLongformSpace,
    PostNotice,
    PromptMember,
    Signal,
)
from bot.core.engine import Engine
from bot.core.events import MessagePosted
from bot.core.explain import as_written, quoted
from bot.core.forecast import ForecastModel
from bot.core.settings import (
    ForecastSettings,
    Level,
    LongExchangeSettings,
    LongformSettings,
    Policy,
    PromptTexts,
    Settings,
)
from bot.core.snapshot import SnapshotError
from bot.core.text import normalise, normalise_aligned
from tests.builders import MIN, T0, message

SEC = timedelta(seconds=1)
# The derailment test_forecast.py uses: a reply opening on "you" with a direct question.
DERAILING = (
    ("ana", "Hi, thanks for the write-up. I think the dosing figures might be a little off, "
            "perhaps check the 2019 trial?"),
    ("ben", "You keep posting this, so please answer one thing: which trial are you citing?"),
)  # fmt: skip


def _derail(engine: Engine, scores: dict[str, float] | None = None) -> list[Decision | Detection]:
    out: list[Decision | Detection] = []
    for index, (author, text) in enumerate(DERAILING):
        event = message(author, text, T0 + index * MIN,
                        reply_to_author=DERAILING[index - 1][0] if index else None)  # fmt: skip
        step = engine.feed(event, scores)
        out += [*step.detections, *step.actions]
    return out


def _forecasts(items: list[Decision | Detection]) -> list[Detection]:
    return [d for d in items if isinstance(d, Detection) and d.signal is Signal.FORECAST]


def _prompts(**templates: str) -> PromptTexts:
    return replace(PromptTexts(), **templates)


# -- the ad hominem model's fewest words --------------------------------------------------------


def test_the_model_judges_a_reply_of_exactly_its_fewest_words_and_not_one_shorter() -> None:
    detector = AdHominemDetector()
    sure = {"attack": 0.99}
    four = detector.judge(message("b", "you should reread it", reply_to_author="a"), sure, "a")
    three = detector.judge(message("b", "you should reread", reply_to_author="a"), sure, "a")
    assert four is not None, "a four-word reply the model is sure of was not judged"
    assert four.cue == "aimed_at_person"
    assert three is None, "a three-word reply was judged by the model"


# -- the forecast --------------------------------------------------------------------------------


def test_the_forecast_reads_the_fast_tiers_attack_score_when_the_scorer_gives_one() -> None:
    def score_with(scores: dict[str, float]) -> float:
        (found,) = _forecasts(_derail(Engine(Policy()), scores))
        return found.score

    calm_fast = score_with({"attack_fast": 0.0, "attack": 0.95})
    assert calm_fast == score_with({"attack": 0.0}), "the heavier tier's attack was read"
    assert score_with({"attack_fast": 0.95, "attack": 0.0}) != calm_fast


def test_a_restored_engine_forecasts_with_the_model_it_is_given() -> None:
    silent = ForecastModel(5.0, {})  # names no sign, so it never speaks
    first = Engine(Policy(), None, silent)
    author, text = DERAILING[0]
    first.feed(message(author, text, T0))
    snapshot = first.snapshot()
    reply = message(DERAILING[1][0], DERAILING[1][1], T0 + MIN, reply_to_author=author)
    restored = Engine.restore(Policy(), None, snapshot, forecast=silent)
    assert not _forecasts(list(restored.feed(reply).detections))
    # The positive half: restored with the shipped model, the same reply is forecast.
    shipped = Engine.restore(Policy(), None, snapshot)
    assert _forecasts(list(shipped.feed(reply).detections))


def test_a_snapshot_of_another_format_is_refused_naming_the_format_it_has() -> None:
    with pytest.raises(SnapshotError, match=r"snapshot format 999, expected"):
        Engine.restore(Policy(), None, {"format": 999, "state": {}})


def test_the_forecast_notice_fills_the_policys_placeholders() -> None:
    prompts = _prompts(forecast_notice="{author}|{target}|{explanation}")
    engine = Engine(Policy(settings=Settings(prompts=prompts)))
    (notice,) = [a for a in _derail(engine) if isinstance(a, PostNotice)]
    author, target, explanation = notice.text.split("|")
    assert (author, target) == ("ben", "ana")
    assert explanation.startswith("the exchange between ana and ben")
    assert "None" not in explanation
    assert "{" not in explanation
    (found,) = _forecasts(_derail(Engine(Policy())))
    assert dict(found.evidence.scores)["forecast"] == found.score


def test_the_long_form_space_is_titled_by_the_policys_template_with_the_thread() -> None:
    forecast = replace(ForecastSettings(), levels=(Level(0.0, ("open_longform",)),))
    settings = Settings(forecast=forecast, longform=LongformSettings(title="Room for {topic}"))
    spaces = [a for a in _derail(Engine(Policy(settings=settings)))
              if isinstance(a, OpenLongformSpace)]  # fmt: skip
    assert [s.title for s in spaces] == ["Room for t1"]


# -- the long exchange ---------------------------------------------------------------------------


def _exchange(engine: Engine, count: int) -> list[Decision | Detection]:
    out: list[Decision | Detection] = []
    for i in range(count):
        author, other = ("ana", "bo") if i % 2 == 0 else ("bo", "ana")
        step = engine.feed(message(author, f"Fair point on section {i}, here is the data I have.",
                                   T0 + i * MIN, reply_to_author=other if i else None))  # fmt: skip
        out += [*step.detections, *step.actions]
    return out


def test_the_long_exchange_offer_names_both_members_and_counts_the_turns() -> None:
    long_exchange = LongExchangeSettings(min_turns=4, within_minutes=60.0)
    prompts = _prompts(long_exchange_offer="{author}|{target}")
    engine = Engine(Policy(settings=Settings(long_exchange=long_exchange, prompts=prompts)))
    found = _exchange(engine, 5)
    (detection,) = [d for d in found
                    if isinstance(d, Detection) and d.signal is Signal.LONG_EXCHANGE]  # fmt: skip
    assert dict(detection.evidence.scores) == {"turns": 4.0}
    (offer,) = [a for a in found if isinstance(a, PostNotice) and a.signal is Signal.LONG_EXCHANGE]
    assert offer.text == "ana|bo"


def test_an_exchange_survives_one_interjection_after_every_turn() -> None:
    # One interjection does not end an exchange, and a reply from the pair makes room for the
    # next one: ana and bo, each turn followed by someone else's aside, still reach min_turns.
    detector_settings = LongExchangeSettings(min_turns=4, within_minutes=60.0)
    from bot.core.escalation import EscalationDetector

    detector = EscalationDetector()
    speakers = ["ana", "bo", "x1", "ana", "x2", "bo", "x3", "ana", "x4", "bo"]
    found = [detector.add_turn(T0 + i * MIN, who, f"m{i}", 0.0, detector_settings)
             for i, who in enumerate(speakers)]  # fmt: skip
    offered = [f for f in found if f is not None]
    assert len(offered) == 1, found
    assert offered[0].pair == ("ana", "bo")


# -- ad hominem and escalation prompts -----------------------------------------------------------


def test_a_prompt_with_no_one_to_name_says_them() -> None:
    prompts = _prompts(ad_hominem_author="{author} to {target}")
    engine = Engine(Policy(settings=Settings(prompts=prompts)))
    actions = engine.feed(message("ben", "you are an idiot", T0)).actions
    texts = [a.text for a in actions if isinstance(a, PromptMember)]
    assert texts == ["ben to them"]


def test_the_escalation_notice_and_evidence_name_the_heat() -> None:
    from bot.policy.loader import load_policy
    from bot.scoring.embedded import EmbeddedScorer

    policy = load_policy("strict")
    prompts = replace(policy.settings.prompts, escalation_notice="{author}|{explanation}")
    engine = Engine(replace(policy, settings=replace(policy.settings, prompts=prompts)),
                    EmbeddedScorer())  # fmt: skip
    # The conversation test_explanations.py escalates: four calm messages, then the heat.
    turns = [("priya", "Anyone seen the new guidance?"), ("okafor", "Yes, reading it now."),
             ("amara", "I think it's sensible."), ("hall", "Mostly agree, one caveat."),
             ("vasquez", "You're an idiot, did you even finish residency?"),
             ("greer", "People like you are the problem."),
             ("vasquez", "You clearly don't understand any of this, you fraud."),
             ("okafor", "Come on, argue the evidence, not the person.")]  # fmt: skip
    found: list[Decision | Detection] = []
    for i, (author, text) in enumerate(turns):
        step = engine.feed(
            message(
                author,
                text,
                T0 + i * 20 * SEC,
                reply_to_author="amara" if author != "amara" else None,
            )
        )
        found += [*step.detections, *step.actions]
    heat = [d for d in found if isinstance(d, Detection) and d.signal is Signal.ESCALATION]
    assert heat, "the conversation did not escalate"
    assert [name for name, _ in heat[0].evidence.scores] == ["heat"]
    assert dict(heat[0].evidence.scores)["heat"] == heat[0].score
    said = [a for a in found if isinstance(a, PostNotice | AlertModerators)
            and a.signal is Signal.ESCALATION and "|" in a.text]  # fmt: skip
    assert said, "no escalation notice with the policy's template"
    author, explanation = said[0].text.split("|")
    assert author in {a for a, _ in turns}
    assert explanation.startswith("the thread is heating up, driven by ")


# -- explanations ----------------------------------------------------------------------------------


def test_several_words_are_quoted_as_a_list() -> None:
    assert quoted(("fraud", "idiot", "hack")) == '"fraud", "idiot" and "hack"'
    assert quoted(("fraud", "idiot")) == '"fraud" and "idiot"'
    assert quoted(("fraud",)) == '"fraud"'


def test_the_words_quoted_back_are_the_authors_outside_quotation() -> None:
    text = 'She wrote "Idiot" first. Honestly, IDIOT is what you are.'
    assert as_written(text, "idiot") == "IDIOT"
    assert as_written("Idiot, you are an idiot", "idiot") == "Idiot"  # the first when both free


def test_normalising_with_offsets_maps_each_character_back_to_the_authors_text() -> None:
    text = "Yoooou 1d10t, a \uff29d\u0456ot, i.d.i.o.t"  # repeats, leet, fullwidth, homoglyph
    folded, starts, ends = normalise_aligned(text)
    assert folded == normalise(text)
    assert len(starts) == len(ends) == len(folded)
    assert "idiot" in folded
    at = folded.find("idiot")
    assert text[starts[at] : ends[at + 4]] == "1d10t"
    last = folded.rfind("idiot")
    assert text[starts[last] : ends[last + 4]] == "i.d.i.o.t"
    you = folded.find("yoou")  # runs shrink to two letters
    assert text[starts[you] : ends[you + 3]] == "Yoooou"  # a shrunk run covers the whole run


# -- events and decisions cross processes ---------------------------------------------------------


def test_events_and_decisions_survive_pickling_as_themselves() -> None:
    event = message("ana", "hello", T0, reply_to_author="bo", mentions=("cy",))
    assert isinstance(event, MessagePosted)
    again = pickle.loads(pickle.dumps(event))
    assert again == event
    assert type(again) is MessagePosted
    evidence = Evidence(("m1", "m2"), (("heat", 0.5),))
    assert pickle.loads(pickle.dumps(evidence)) == evidence
    key = event.conversation
    assert pickle.loads(pickle.dumps(key)) == key


# -- memory ----------------------------------------------------------------------------------------


def test_a_tick_forgets_cooldowns_no_cooldown_could_still_need() -> None:
    engine = Engine(Policy())
    actions = engine.feed(message("ben", "you are an idiot", T0, reply_to_author="ana")).actions
    assert [a for a in actions if isinstance(a, PromptMember)], "no prompt, so no cooldown"
    assert engine.size["cooldowns"] >= 1
    hours = Policy().settings.cooldowns.prompt_hours  # each cooldown is kept for its own length
    engine.tick(T0 + (hours - 1) * 60 * MIN)  # the prompt's cooldown still applies
    assert engine.size["cooldowns"] >= 1
    engine.tick(T0 + (hours + 1) * 60 * MIN)
    assert engine.size["cooldowns"] == 0


# -- found by a second, fresh sample (seed 19) -------------------------------------------------------


def test_an_ad_hominem_detection_keeps_the_scorers_scores_from_0_05() -> None:
    from bot.core.decisions import Detection as _Detection

    engine = Engine(Policy())
    scores = {"insult": 0.05, "toxicity": 0.0499, "attack": 0.0}
    step = engine.feed(message("ben", "you are an idiot", T0, reply_to_author="ana"), scores)
    (found,) = [d for d in step.detections
                if isinstance(d, _Detection) and d.signal is Signal.AD_HOMINEM]  # fmt: skip
    kept = dict(found.evidence.scores)
    assert kept["insult"] == 0.05
    assert "toxicity" not in kept
    assert kept["ad_hominem"] == found.score


def test_the_forecast_falls_back_to_the_attack_score_without_a_fast_tier() -> None:
    def score_with(scores: dict[str, float]) -> float:
        (found,) = _forecasts(_derail(Engine(Policy()), scores))
        return found.score

    assert score_with({"attack": 0.95}) != score_with({"attack": 0.0})


def test_a_step_with_only_detections_is_not_empty() -> None:
    from bot.core.decisions import Decisions

    detection = Detection(Signal.PILE_ON, "m1", message("a", "x", T0).conversation, T0, None, 0.5,
                          Evidence(), "cue", "why")  # fmt: skip
    assert Decisions(detections=(detection,))
    assert not Decisions()


def test_time_spans_and_sets_survive_a_snapshot() -> None:
    from datetime import timedelta as _timedelta

    from bot.core.snapshot import from_plain, to_plain

    for value in (_timedelta(minutes=90, seconds=1), frozenset({"mod", "admin"}), frozenset()):
        assert from_plain(to_plain(value)) == value
