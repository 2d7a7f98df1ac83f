"""An insult about someone not in the conversation is not an attack on a participant (issue 12):
never a prompt; with ``[ad_hominem] alert_absent``, a moderator alert and nothing else."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.ad_hominem import AdHominemDetector
from bot.core.decisions import AlertModerators, Signal
from bot.core.engine import Engine
from bot.core.language import analyse
from bot.core.settings import Policy
from bot.policy.loader import load_policy
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message

ABSENT = [
    "he's an idiot",
    "Honestly that guy is a clown.",
    "the minister is a moron",
    "lol she is so stupid",
    "they're complete idiots, all of them",
    "What a clown he is.",
    "You know what, he's a total fraud and everyone knows it.",
    "our prime minister is an absolute buffoon",
]

# Not insults about anyone absent: denied, reported, quoted, literal, or about a thing.
NOT_ABSENT = [
    "he's not an idiot, he just had a bad day",
    "nobody thinks she is stupid",
    "she said he is an idiot, which is unfair",
    '"he is a clown" is what the paper wrote',
    "he's just a child, give him time",
    "they are useless without batteries",
    "the argument is stupid",
    "he is thick-skinned enough to take it",
    "he is a good man",
]


def _policy(alert_absent: bool) -> Policy:
    policy = load_policy("professional")
    ad_hominem = replace(policy.settings.ad_hominem, alert_absent=alert_absent)
    return replace(policy, settings=replace(policy.settings, ad_hominem=ad_hominem))


@pytest.mark.parametrize("text", ABSENT)
def test_an_insult_about_someone_absent_is_read_as_such(text: str) -> None:
    analysis = analyse(text)
    assert analysis.absent_insult
    assert not analysis.cues


@pytest.mark.parametrize("text", NOT_ABSENT)
def test_denied_reported_quoted_and_literal_words_are_not_absent_insults(text: str) -> None:
    assert analyse(text).absent_insult == ""


@pytest.mark.parametrize("text", ABSENT)
def test_an_insult_about_someone_absent_is_not_ad_hominem(text: str) -> None:
    # Even a confident scorer and model do not make it one: the insult is not at the reader.
    scores = {"insult": 0.95, "attack": 0.95}
    reply = message("b", text, reply_to_author="a", mentions=("a",))
    assert AdHominemDetector().judge(reply, scores, "a") is None


@pytest.mark.parametrize(
    "text", ["you're an idiot", "you idiot", "he's an idiot and so is a clown like you"]
)
def test_an_insult_at_the_person_addressed_still_is(text: str) -> None:
    finding = AdHominemDetector().judge(message("b", text, reply_to_author="a"), {}, "a")
    assert finding is not None
    assert finding.score >= 0.55
    assert finding.target == "a"


def test_off_by_default_nothing_at_all() -> None:
    assert Policy().settings.ad_hominem.alert_absent is False
    engine = Engine(_policy(alert_absent=False), EmbeddedScorer())
    decided = engine.feed(message("b", "he's an idiot", reply_to_author="a"))
    assert not decided.actions
    assert not decided.detections


def test_with_alert_absent_only_moderators_are_told() -> None:
    engine = Engine(_policy(alert_absent=True), EmbeddedScorer())
    decided = engine.feed(message("b", "Honestly that guy is a CLOWN.", reply_to_author="a"))
    (detection,) = decided.detections
    assert detection.signal is Signal.ABSENT_INSULT
    assert detection.target is None
    assert detection.words == ("that guy is a CLOWN",)
    (alert,) = decided.actions
    assert isinstance(alert, AlertModerators)
    assert alert.signal is Signal.ABSENT_INSULT
    assert 'words: "that guy is a CLOWN"' in alert.text
    assert alert.text.startswith("Insult about someone absent in ")


def test_with_alert_absent_a_real_attack_is_still_an_attack_not_an_absent_alert() -> None:
    engine = Engine(_policy(alert_absent=True), EmbeddedScorer())
    decided = engine.feed(
        message("b", "he's an idiot and so are you, you clown", reply_to_author="a")
    )
    assert {d.signal for d in decided.detections} == {Signal.AD_HOMINEM}


def test_absent_alerts_follow_the_alert_cooldown() -> None:
    engine = Engine(_policy(alert_absent=True), EmbeddedScorer())
    first = engine.feed(message("b", "he's an idiot", T0, reply_to_author="a"))
    second = engine.feed(message("c", "the minister is a moron", T0 + MIN, reply_to_author="a"))
    assert len(first.actions) == 1
    assert [d.signal for d in second.detections] == [Signal.ABSENT_INSULT]
    assert not second.actions  # one alert per thread per alert_minutes


def test_the_knob_reads_from_a_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('schema_version = 1\nname = "x"\n[ad_hominem]\nalert_absent = true\n')
    assert load_policy(path).settings.ad_hominem.alert_absent is True
