"""The attack model: loading, determinism, and what it ranks above what (no shared data needed)."""

import json
import math
from pathlib import Path

import pytest

from bot.core.ad_hominem import AdHominemDetector
from bot.scoring.attack_model import AttackModel, features
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import message

WEIGHTS = Path(__file__).resolve().parents[1] / "bot" / "scoring" / "weights" / "attack_linear.json"
DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo"

ATTACKS = [
    "You're an idiot and everyone here knows it.",
    "Did you even finish medical school?",
    "You clearly have no idea what you're talking about.",
    "You're only defending it because your name is on the paper.",
    "Nobody cares what a clown like you thinks.",
]
CRITIQUE = [
    "That claim is simply wrong: the readmission rates fell everywhere.",
    "The argument is flawed because the sample is self-selected.",
    "I disagree, the evidence points the other way.",
    "This conclusion doesn't follow from the data.",
]
REPORTED = [
    "A parent called me a 'quack' today because I refused antibiotics.",
    "Reviewer 2 said I was clueless about statistics. Charming.",
]
SWEARING = ["Holy shit, that panel was incredible.", "Fuck yeah, the build is green!"]
CLINICAL = [
    "The patient presented as paranoid and agitated.",
    "Known borderline personality disorder, DBT referral made.",
]


@pytest.fixture(scope="module")
def model() -> AttackModel:
    return AttackModel.load()


def test_shipped_weights_load_and_stay_small(model: AttackModel) -> None:
    assert model.size > 1000
    assert WEIGHTS.stat().st_size < 1_000_000


def test_loading_from_a_path_matches_the_packaged_weights(model: AttackModel) -> None:
    again = AttackModel.load(WEIGHTS)
    assert [again.probability(t) for t in ATTACKS] == [model.probability(t) for t in ATTACKS]


def test_wrong_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"format": 99, "bias": 0, "dense": {}, "ngrams": {}}))
    with pytest.raises(ValueError, match="format"):
        AttackModel.load(path)


def test_same_text_same_probability(model: AttackModel) -> None:
    text = "Where did you get your degree, a cereal box?"
    assert len({model.probability(text) for _ in range(3)}) == 1


@pytest.mark.parametrize("text", ["", "   ", "> you are an idiot", '"you\'re a fraud"', "123 456"])
def test_no_words_of_its_own_scores_zero(model: AttackModel, text: str) -> None:
    assert model.probability(text) == 0.0


def test_probability_agrees_with_the_features_training_reads(model: AttackModel) -> None:
    raw = model.to_dict()
    for text in ATTACKS + CRITIQUE + REPORTED:
        found = features(text)
        assert found is not None
        grams = sum(raw["ngrams"].get(g, 0.0) for g in found.ngrams) / math.sqrt(len(found.ngrams))
        dense = sum(raw["dense"].get(k, 0.0) * v for k, v in found.dense.items())
        expected = 1.0 / (1.0 + math.exp(-(raw["bias"] + grams + dense)))
        assert model.probability(text) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "kind",
    [CRITIQUE, REPORTED, SWEARING, CLINICAL],
    ids=["critique", "reported", "swearing", "clinical"],
)
def test_clear_attacks_score_above_what_is_not_an_attack(
    model: AttackModel, kind: list[str]
) -> None:
    weakest_attack = min(model.probability(t) for t in ATTACKS)
    assert weakest_attack > 0.9
    assert max(model.probability(t) for t in kind) < 0.5 < weakest_attack


def test_insult_said_of_the_addressee_outscores_the_same_word_reported_or_clinical(
    model: AttackModel,
) -> None:
    assert model.probability("You're paranoid, get help.") > model.probability(
        "The patient presented as paranoid."
    )
    assert model.probability("You're a quack.") > model.probability(
        "A parent called me a 'quack' today."
    )


def _replies(name: str) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in (DEMO / name).read_text().splitlines() if line.strip()]
    return [line for line in lines if "expect" in line]


EVERYDAY = [
    "Are you free at 3?",
    "You're right, my bad.",
    "Holy shit, you did it!",
    "Damn, you're fast.",
    "You're not stupid for asking, it trips everyone up.",
    "Nobody thinks you're lazy.",
    "Sorry, I thought you meant the other ward. Let me check and come back to you.",
]


@pytest.mark.parametrize("text", [c["text"] for c in _replies("tricky_negatives.jsonl")] + EVERYDAY)
def test_tricky_negatives_stay_negative_with_the_model_in_play(text: str) -> None:
    scores = EmbeddedScorer().score([text])[0]
    finding = AdHominemDetector().judge(message("b", text, reply_to_author="a"), scores, "a")
    assert finding is None or finding.score < 0.5  # below even the strict preset


LONG_ATTACK = (
    "Honestly this whole thread shows the same pattern every time you post here: you skim, you "
    "latch onto one word, and then you lecture everyone about things you plainly never studied."
)


def test_the_model_alone_prompts_but_never_reaches_the_alert_level() -> None:
    finding = AdHominemDetector().judge(
        message("b", LONG_ATTACK, reply_to_author="a"), {"attack": 1.0}, "a"
    )
    assert finding is not None
    assert finding.cue == "aimed_at_person"
    assert 0.6 <= finding.score <= 0.8
    assert "about a" in finding.explanation


def test_the_model_says_nothing_about_unaimed_messages_or_unsure_short_ones() -> None:
    detector = AdHominemDetector()
    unaimed = "The committee published the minutes late again and the summary leaves out the vote."
    assert detector.judge(message("b", unaimed * 2), {"attack": 1.0}, None) is None
    short = "Are you free at 3?"
    assert detector.judge(message("b", short, reply_to_author="a"), {"attack": 0.55}, "a") is None
    sure = detector.judge(message("b", short, reply_to_author="a"), {"attack": 0.95}, "a")
    assert sure is not None
    assert sure.cue == "aimed_at_person"


def test_warmth_and_a_denied_insult_make_the_model_less_sure() -> None:
    detector = AdHominemDetector()
    plain = LONG_ATTACK
    warm = LONG_ATTACK + " Thanks."
    denied = "You're not stupid, but " + LONG_ATTACK

    def score(text: str) -> float:
        found = detector.judge(message("b", text, reply_to_author="a"), {"attack": 0.9}, "a")
        return 0.0 if found is None else found.score

    assert 0.0 < score(warm) < score(plain)
    assert score(denied) < score(plain)
