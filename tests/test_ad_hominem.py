import json
from pathlib import Path

import pytest

from bot.core.ad_hominem import AdHominemDetector
from bot.core.text import normalise
from tests.builders import message

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo"
DETECT_AT = 0.55


def _replies(name: str) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in (DEMO / name).read_text().splitlines() if line.strip()]
    return [line for line in lines if "expect" in line]


def _score(text: str) -> float:
    finding = AdHominemDetector().judge(message("b", text, reply_to_author="a"), {}, "a")
    return finding.score if finding else 0.0


@pytest.mark.parametrize("case", _replies("tricky_negatives.jsonl"), ids=lambda c: c["id"])
def test_tricky_negative_is_not_ad_hominem(case: dict[str, str]) -> None:
    assert _score(case["text"]) < DETECT_AT, case["category"]


def test_almost_every_attack_on_the_person_is_caught() -> None:
    # The known miss: a spelled-out insult right after an article ("a f r a u d like you" is
    # joined into "afraud").
    cases = _replies("tricky_positives.jsonl")
    missed = [case["id"] for case in cases if _score(case["text"]) < DETECT_AT]
    assert missed == ["tp-32b"]


@pytest.mark.parametrize(
    "text",
    ["the rat model showed a clear effect", "snake venom assays take a week",
     "what an idiot I am, wrong file", "what a clown show that conference was",
     "you only want that because it is faster?", "I am not a fool like you think"],
)  # fmt: skip
def test_words_that_insult_only_when_aimed_at_a_person(text: str) -> None:
    assert _score(text) < DETECT_AT


@pytest.mark.parametrize(
    "text",
    ["that claim is simply wrong", "the argument is flawed", "nonsense claims, all of them",
     "a parent called me a 'quack' today", "I'm an idiot, I misread the table",
     "holy shit, that panel was incredible", "the patient was psychotic on admission"],
)  # fmt: skip
def test_critique_reports_and_clinical_terms_are_left_alone(text: str) -> None:
    assert _score(text) == 0.0


def test_finding_names_target_and_cue() -> None:
    finding = AdHominemDetector().judge(
        message("bo", "did you even finish residency?", reply_to_author="ana"), {}, None
    )
    assert finding is not None
    assert (finding.target, finding.cue) == ("ana", "credentials")
    assert "credentials" in finding.explanation


def test_scorer_insult_counts_only_when_someone_is_addressed() -> None:
    detector = AdHominemDetector()
    addressed = detector.judge(
        message("b", "you absolute walnut", reply_to_author="a"), {"insult": 0.95}, None
    )
    about_policy = detector.judge(
        message("b", "this walnut policy", reply_to_author="a"), {"insult": 0.95}, None
    )
    assert addressed is not None
    assert addressed.cue == "hostile_reply"
    assert about_policy is None


@pytest.mark.parametrize(
    ("evasion", "plain"),
    [("1d10t", "idiot"), ("stuuuupid", "stuupid"), ("i d i o t", "idiot"),
     ("id\u200biot", "idiot"), ("\u0456diot", "idiot"), ("ＩＤＩＯＴ", "idiot")],
)  # fmt: skip
def test_normalise_undoes_evasions(evasion: str, plain: str) -> None:
    assert normalise(evasion) == plain
