"""The claim shown alone in the author's prompt: the author's own words, never the personal ones."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.core.engine import Engine
from bot.core.rephrase import claim_alone, split_claim
from bot.core.settings import Policy
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import T0, message


def test_claim_is_split_from_the_personal_clause() -> None:
    found = split_claim("You clearly don't understand, a post-hoc split doesn't fix a contaminated pretraining mix.",
                        ("You clearly don't understand",))  # fmt: skip
    assert found.claim == "a post-hoc split doesn't fix a contaminated pretraining mix"


def test_sentences_and_joints_split_and_a_stray_word_is_dropped() -> None:
    found = split_claim("The numbers are fine, but you clearly have no idea what a p-value is, so stop.",
                        ("you clearly have no idea",))  # fmt: skip
    assert found.claim == "The numbers are fine"


def test_no_claim_left_gives_none() -> None:
    assert split_claim("You are an idiot.", ("You are an idiot",)).claim is None
    assert split_claim("Nothing personal here at all.", ("not in the text",)).claim is None


@given(st.lists(st.sampled_from(["the", "trial", "data", "you", "idiot", "shows", "no", "effect", ",", ".", "but"]),
                min_size=1, max_size=30), st.integers(0, 5))  # fmt: skip
def test_claim_only_ever_holds_the_authors_words_in_order(tokens: list[str], cue_at: int) -> None:
    text = " ".join(tokens)
    words = re.findall(r"\w+", text)
    cue = words[min(cue_at, len(words) - 1)] if words else ""
    claim = split_claim(text, (cue,) if cue else ()).claim
    if claim is None:
        return
    pieces = [re.findall(r"\w+", part) for part in claim.split(" \u2026 ")]
    flat = [w for piece in pieces for w in piece]
    position = 0
    for word in flat:  # a subsequence of the text's words: nothing invented, nothing reordered
        position = words.index(word, position) + 1
    assert cue.casefold() not in claim.casefold()


def test_prompt_shows_the_claim_alone_when_it_no_longer_reads_as_an_attack() -> None:
    engine = Engine(Policy(), EmbeddedScorer())
    text = "You clearly don't understand this. The trial excluded patients over 65, so it says nothing about them."
    prompts = [
        a
        for a in engine.feed(message("bo", text, T0, reply_to_author="ana"))
        if hasattr(a, "member")
    ]
    assert prompts
    assert "Your point, \u201cThe trial excluded patients over 65" in prompts[0].text
    assert "is what reads as personal" in prompts[0].text


def test_prompt_offers_no_claim_when_the_rest_is_personal_too() -> None:
    engine = Engine(Policy(), EmbeddedScorer())
    text = "Where did you get your PhD, a cereal box? I've shipped more eval suites than you've read papers."
    prompts = [
        a
        for a in engine.feed(message("li", text, T0, reply_to_author="tom"))
        if hasattr(a, "member")
    ]
    assert prompts
    assert "Your point" not in prompts[0].text
    assert "Would you rephrase it around the claim?" in prompts[0].text


def test_claim_alone_shows_the_claim_only_when_the_judge_lets_it_pass() -> None:
    text = "You clearly don't understand. The trial excluded patients over 65, idiot, so it says nothing about them."

    def judge(claim: str) -> tuple[str, ...] | None:  # "idiot" still reads as personal
        return ("idiot",) if "idiot" in claim else None

    once = claim_alone(text, ("You clearly don't understand",), judge)
    assert once.found is not None
    assert "idiot" in once.found
    assert once.shown is None  # one split (shipped): the jab left in keeps it out
    twice = claim_alone(text, ("You clearly don't understand",), judge, rounds=2)
    assert twice.found == once.found
    assert twice.shown == "The trial excluded patients over 65 … it says nothing about them"


def test_claim_alone_stops_when_the_judge_names_no_words() -> None:
    text = "You clearly don't understand. The trial excluded patients over 65, so it says nothing."
    check = claim_alone(text, ("You clearly don't understand",), lambda claim: (), rounds=3)
    assert check.found is not None
    assert check.shown is None


def test_strict_claim_leaves_out_every_clause_that_speaks_to_the_person() -> None:
    text = "You clearly don't understand. Your argument ignores the base rate, and you've never read a trial."
    strict = split_claim(text, ("You clearly don't understand",), impersonal=True)
    assert strict.claim == "Your argument ignores the base rate"  # "your" + an idea stays
    loose = split_claim(text, ("You clearly don't understand",))
    assert loose.claim is not None
    assert "you've never read a trial" in loose.claim


def test_claim_alone_falls_back_to_the_strict_claim_when_the_first_still_reads_as_personal() -> (
    None
):
    text = "Where did you get your PhD? The cohort was 40 patients, and I've read more papers than you have."

    def judge(claim: str) -> tuple[str, ...] | None:  # anything that still says "you" is personal
        return ("you",) if re.search(r"\byou", claim, re.IGNORECASE) else None

    check = claim_alone(text, ("Where did you get your PhD",), judge)
    assert check.found is not None
    assert "than you have" in check.found
    assert check.shown == "The cohort was 40 patients"


def test_no_strict_claim_is_offered_when_it_too_reads_as_personal() -> None:
    text = "Where did you get your PhD? The cohort was tiny, you fraud, and frankly clowns run this lab."

    def judge(claim: str) -> tuple[str, ...] | None:  # the clowns stay personal, strict or not
        return ("clowns",) if "clowns" in claim or "you" in claim else None

    check = claim_alone(text, ("Where did you get your PhD",), judge)
    assert check.found is not None
    assert check.shown is None
