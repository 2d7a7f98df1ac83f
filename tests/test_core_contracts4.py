"""More of the core's behaviour, found unchecked by mutation testing (issue 18, seed 41): the
member a message names among several mentioned, notices merging whatever their signal, a policy
put in force, a snapshot without the engine's state refused by name, a claim check's rounds, a
narrowing exchange heating faster, a long exchange found after a slow start, the strongest cue
first, a moderator's space keeping the alert's key messages, a long exchange's explanation, and
the helpers the word lists and patterns are built with at import (stretch-tolerant words, their
alternation, phrases filed by their first word, a knob's description), called here directly
because mutmut forks its mutants after those modules are imported. From seed 42: an absent insult
found after a denied one, a message counted for a later watch after an earlier one ended, and a
pile-on target's move to the long-form space at either end of the window."""

from __future__ import annotations

import re
from dataclasses import fields, replace

import pytest

from bot.core.ad_hominem import resolve_target
from bot.core.decisions import (
    AlertModerators,
    Evidence,
    OpenLongformSpace,
    PostNotice,
    Signal,
    merge,
)
from bot.core.engine import Engine
from bot.core.escalation import EscalationDetector
from bot.core.events import ConversationKey
from bot.core.language import _WordList, analyse
from bot.core.patterns import any_of, stretchy
from bot.core.requests import ModeratorRequested, Requested, decide
from bot.core.settings import (
    EscalationSettings,
    LongExchangeSettings,
    Policy,
    Settings,
    knob,
)
from bot.core.snapshot import SnapshotError
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message

HERE = ConversationKey("c", "general", "t1")  # where tests.builders.message posts


# -- who a message is aimed at -----------------------------------------------------------------------


def test_a_message_naming_one_of_several_mentioned_members_is_aimed_at_that_one() -> None:
    text = "@bo you are an idiot"
    posted = message("ana", text, mentions=("cy", "bo"))
    assert resolve_target(posted, analyse(text), None) == "bo"


# -- merging -----------------------------------------------------------------------------------------


def test_notices_in_one_place_merge_into_one_whatever_their_signal() -> None:
    pile_on = PostNotice(HERE, "m1", T0, Signal.PILE_ON, "many", Evidence(("m1",)), text="a")
    heated = replace(PostNotice(HERE, "m2", T0, Signal.ESCALATION, "hot", Evidence(("m2",)),
                                text="b"), severity=2)  # fmt: skip
    (kept,) = merge((pile_on, heated))
    assert kept.signal is Signal.ESCALATION  # the more severe
    assert kept.evidence.message_ids == ("m1", "m2")


def test_alerts_in_one_place_stay_apart_when_their_signals_differ() -> None:
    one = AlertModerators(HERE, "m1", T0, Signal.PILE_ON, "r", Evidence(("m1",)), text="a")
    two = AlertModerators(HERE, "m2", T0, Signal.AD_HOMINEM, "r", Evidence(("m2",)), text="b")
    assert merge((one, two)) == (one, two)


# -- the engine's policy and memory ------------------------------------------------------------------


def test_a_replaced_policy_is_the_one_in_force() -> None:
    engine = Engine(Policy(), EmbeddedScorer())
    new = Policy(name="replacement")
    engine.replace_policy(new)
    assert engine.policy is new


def test_a_snapshot_without_the_engines_state_is_refused_saying_so() -> None:
    engine = Engine(Policy(), EmbeddedScorer())
    snapshot = engine.snapshot()
    damaged = {**snapshot, "state": {"_messages": []}}
    with pytest.raises(SnapshotError, match=r"^snapshot does not hold the engine's state$"):
        Engine.restore(Policy(), EmbeddedScorer(), damaged)


def test_a_claim_check_with_no_rounds_tries_no_split() -> None:
    engine = Engine(Policy(), EmbeddedScorer())
    text = "you are an idiot, the trial was underpowered"
    posted = message("ana", text, reply_to_author="bo")
    tried = engine.claim_check(posted, text, ("you are an idiot",))
    assert tried.found == "the trial was underpowered"  # one round (the default) splits it off
    assert engine.claim_check(posted, text, ("you are an idiot",), rounds=0).found is None


# -- escalation and long exchanges -------------------------------------------------------------------


def _heat_after_four(authors: tuple[str, ...]) -> float:
    settings = EscalationSettings(
        min_messages=2, detect_at=0.99, full_heat=100.0, half_life_minutes=1e300
    )  # no cooling, no saturation
    detector = EscalationDetector()
    for i, author in enumerate(authors):
        detector.add(T0 + i * 5 * MIN, author, f"m{i}", 0.5, 0.0, settings)
    return detector.score


def test_heat_between_only_two_members_builds_faster_than_among_four() -> None:
    # Four or more recent messages from at most two members: a narrowing duel, its fourth
    # message weighted up (5 minutes apart: no tempo bonus).
    two, four = (
        _heat_after_four(("ana", "bo", "ana", "bo")),
        _heat_after_four(("ana", "bo", "cy", "di")),
    )
    assert two == pytest.approx(four * (3 + 1.3) / 4, rel=1e-3)
    assert two > four


def test_a_long_exchange_that_started_slowly_is_found_once_its_recent_turns_are_quick() -> None:
    settings = LongExchangeSettings(min_turns=4, within_minutes=60.0)
    detector = EscalationDetector()
    found = []
    times = [0, 50, 100, 150, 160, 170, 180]  # minutes: four slow turns, then quick ones
    for i, minute in enumerate(times):
        author = "ana" if i % 2 == 0 else "bo"
        finding = detector.add_turn(T0 + minute * MIN, author, f"m{i}", 0.0, settings)
        if finding is not None:
            found.append((minute, finding.turns))
    # Turns counted from the second message: the last four span 110 minutes at 160, 70 at 170
    # and only 30 at 180.
    assert found == [(180, 6)]


# -- cues --------------------------------------------------------------------------------------------


def test_a_messages_strongest_cue_comes_first() -> None:
    cues = analyse("shut up, you are stupid").cues
    assert [c.category for c in cues] == ["competence", "dismissal"]
    assert [c.weight for c in cues] == sorted((c.weight for c in cues), reverse=True)


# -- requests and responses --------------------------------------------------------------------------


def test_a_moderators_space_from_an_alert_keeps_the_alerts_key_messages() -> None:
    alert = AlertModerators(HERE, "m3", T0, Signal.PILE_ON, "r", Evidence(("m1", "m3")), text="a")
    ask = ModeratorRequested(Requested.LONGFORM, HERE, "Mo", T0 + MIN, "m7", about=alert)
    (space,) = decide(ask, Settings()).actions
    assert isinstance(space, OpenLongformSpace)
    assert space.key_messages == ("m1", "m3")


def test_a_long_exchanges_detection_says_who_exchanged_how_many_turns() -> None:
    from tests.test_engine import DISAGREE

    engine = Engine(Policy(), EmbeddedScorer())
    found = []
    for i in range(16):
        author, other = ("ana", "bo") if i % 2 == 0 else ("bo", "ana")
        step = engine.feed(message(author, DISAGREE[i % len(DISAGREE)], T0 + i * MIN,
                                   reply_to_author=other))  # fmt: skip
        found += [d for d in step.detections if d.signal is Signal.LONG_EXCHANGE]
    (detection,) = found
    assert re.fullmatch(r"(ana and bo|bo and ana) have exchanged \d+ civil turns",
                        detection.explanation)  # fmt: skip


# -- the helpers run at import -----------------------------------------------------------------------


def test_a_stretchy_word_matches_stretched_letters_but_not_missing_ones() -> None:
    pattern = re.compile(stretchy("stupid ass"))
    assert pattern.fullmatch("stuuupid   ass")
    assert pattern.fullmatch("stupid asss")
    assert not pattern.fullmatch("stupid as")  # a doubled letter must stay doubled
    assert not pattern.fullmatch("stupidass")


def test_an_alternation_of_words_tries_the_longest_first_and_matches_each() -> None:
    pattern = any_of(["fool", "foolish", "fool"])
    assert pattern.startswith("(?:f+o{2,}l+i+s+h+|")
    assert re.fullmatch(pattern, "foooolish")
    assert re.fullmatch(pattern, "fool")
    assert not re.fullmatch(pattern, "fol")


def test_a_word_list_files_its_phrases_under_their_first_word() -> None:
    words = _WordList(["moron", "you clown", "you jerk", "total idiot"])
    assert words.words == frozenset({"moron"})
    assert words.phrases == {"you": ("you clown", "you jerk"), "total": ("total idiot",)}
    assert words.phrase_starts == frozenset({"you", "total"})
    tokens = ("well", "you", "clown", "moron")
    assert words.count(tokens, frozenset(tokens), "well you clown moron") == 2


def test_a_knob_keeps_its_description_beside_its_default() -> None:
    made = knob(3, "how many")
    assert (made.default, made.metadata["doc"]) == (3, "how many")
    listed = knob(tuple, "which ones")
    assert (listed.default_factory(), listed.metadata["doc"]) == ((), "which ones")
    described = {f.name: f.metadata.get("doc") for f in fields(EscalationSettings)}
    assert described["full_heat"] == "accumulated heat that scores 1.0"


def test_an_insult_about_someone_absent_is_found_after_a_denied_one() -> None:
    # (seed 42) The denial is passed over, not the end of the search.
    assert analyse("the minister is not a moron. the minister is a moron.").absent_insult == (
        "the minister is a moron"
    )


def test_a_message_after_one_watch_ended_still_counts_for_a_later_watch_in_the_thread() -> None:
    # (seed 42) Two notices ten minutes apart in one thread; a message 65 minutes after the first
    # is past its window, and 55 minutes into the second's: it counts there.
    from bot.core.outcomes import OutcomeTracker

    here = ConversationKey("discord:1", "general", "t1")
    tracker = OutcomeTracker()
    for message_id, at in (("m1", T0), ("m2", T0 + 10 * MIN)):
        notice = PostNotice(here, message_id, at, Signal.ESCALATION, "heating up", Evidence(),
                            text="A notice.")  # fmt: skip
        tracker.start(notice, target=None, threshold=0.5, before=1.0, window_minutes=60,
                      edit_minutes=10)  # fmt: skip
    tracker.posted(here, "ana", (), 2.0, T0 + 65 * MIN)
    first, second = tracker.due(T0 + 70 * MIN)
    assert (first.message_id, dict(first.measures)["heat_60"]) == ("m1", 0.0)
    assert (second.message_id, dict(second.measures)["heat_60"]) == ("m2", 2.0)


@pytest.mark.parametrize("minutes", [0, 60], ids=["at-the-prompt", "at-the-windows-end"])
def test_a_pile_on_target_writing_in_the_space_at_either_end_of_the_window_has_moved(
    minutes: int,
) -> None:
    # (seed 42) The window includes both its ends, as the heat windows' ends are included.
    from bot.core.decisions import PromptKind, PromptMember
    from bot.core.outcomes import OutcomeTracker

    here, venue = (
        ConversationKey("discord:1", "general", "t1"),
        ConversationKey("discord:1", "lf", "v1"),
    )
    prompt = PromptMember(here, "m1", T0, Signal.PILE_ON, "why", Evidence(), member="bo",
                          kind=PromptKind.PILE_ON_TARGET, text="A private note.")  # fmt: skip
    tracker = OutcomeTracker()
    tracker.start(prompt, target="bo", threshold=0.5, before=1.0, window_minutes=60,
                  edit_minutes=10)  # fmt: skip
    tracker.opened(here, "m1", venue)
    tracker.wrote_in_venue(venue, "bo", T0 + minutes * MIN)
    (record,) = tracker.due(T0 + 60 * MIN)
    assert dict(record.measures)["moved_to_longform"] == 1.0
