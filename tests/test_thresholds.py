"""Every threshold a policy sets, at its boundary: just below it nothing happens, at it (or just
past it, as the knob's doc says) it does. Written against findings, signals and decision kinds,
never alert wording, so the texts can change freely.

Each pair was checked against a hand-made off-by-one (``<`` for ``<=`` and the like): one side of
the pair fails.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.core.decisions import (
    AlertModerators,
    Decision,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptKind,
    PromptMember,
    SetSlowMode,
    Signal,
)
from bot.core.engine import Engine
from bot.core.escalation import EscalationDetector
from bot.core.pile_on import PileOnDetector, PileOnFinding, message_pressure
from bot.core.responses import Responder, level_actions, ordinal
from bot.core.settings import (
    CooldownSettings,
    EscalationSettings,
    Level,
    LongExchangeSettings,
    PileOnSettings,
    Policy,
    Settings,
    SlowModeSettings,
)
from tests.builders import MIN, T0, message

SEC = timedelta(seconds=1)
# Pressure 1.0 per author and full_pressure 1.0: the score saturates, so only min_authors decides.
AUTHORS_ONLY = PileOnSettings(min_authors=4, full_pressure=1.0, detect_at=0.5)


def _pile(
    detector: PileOnDetector,
    authors: list[str],
    settings: PileOnSettings,
    *,
    pressure: float = 1.0,
    step: timedelta = MIN,
    target: str = "ana",
) -> list[PileOnFinding | None]:
    return [
        detector.add(target, T0 + i * step, a, f"m{i}", pressure, False, settings)
        for i, a in enumerate(authors)
    ]


# -- pile-on: min_authors -------------------------------------------------------------------------


def test_pile_on_starts_exactly_at_min_authors_distinct_members() -> None:
    found = _pile(PileOnDetector(), ["u1", "u2", "u3", "u4"], AUTHORS_ONLY)
    assert found[:3] == [None, None, None], "detected with fewer than min_authors members"
    assert found[3] is not None, "not detected with exactly min_authors members"
    assert found[3].authors == ("u1", "u2", "u3", "u4")
    assert not found[3].late_joiner


@pytest.mark.parametrize("min_authors", [3, 4, 6])
def test_pile_on_threshold_follows_the_policys_min_authors(min_authors: int) -> None:
    settings = replace(AUTHORS_ONLY, min_authors=min_authors)
    authors = [f"u{i}" for i in range(min_authors + 1)]
    found = _pile(PileOnDetector(), authors, settings)
    first = next(i for i, f in enumerate(found) if f is not None)
    assert first + 1 == min_authors


def test_repeat_replies_from_the_same_members_do_not_reach_min_authors() -> None:
    found = _pile(PileOnDetector(), ["u1", "u2", "u3", "u1", "u2", "u3", "u1"], AUTHORS_ONLY)
    assert found == [None] * 7
    # ... and the fourth distinct member completes it: the count was the only thing missing.
    detector = PileOnDetector()
    _pile(detector, ["u1", "u2", "u3", "u1"], AUTHORS_ONLY)
    assert detector.add("ana", T0 + 5 * MIN, "u4", "m9", 1.0, False, AUTHORS_ONLY) is not None


def test_the_target_replying_in_their_own_thread_is_not_one_of_the_authors() -> None:
    found = _pile(PileOnDetector(), ["u1", "u2", "ana", "u3"], AUTHORS_ONLY)
    assert found == [None] * 4
    found = _pile(PileOnDetector(), ["u1", "u2", "ana", "u3", "u4"], AUTHORS_ONLY)
    assert found[-1] is not None
    assert "ana" not in found[-1].authors


def test_warm_replies_do_not_count_towards_min_authors() -> None:
    detector = PileOnDetector()
    _pile(detector, ["u1", "u2", "u3"], AUTHORS_ONLY)
    assert detector.add("ana", T0 + 4 * MIN, "w1", "w", 0.0, False, AUTHORS_ONLY) is None
    assert detector.add("ana", T0 + 5 * MIN, "u4", "x", 0.01, False, AUTHORS_ONLY) is not None


def test_engine_pile_on_fires_at_the_min_authors_th_distinct_replier() -> None:
    # Through the engine, with the policy's knob: the off-by-one that only one Discord end-to-end
    # test used to notice.
    for min_authors in (3, 4, 5):
        # min_pointed=0: the count of distinct repliers alone, whatever their tone.
        pile_on = PileOnSettings(min_authors=min_authors, full_pressure=1.0, min_pointed=0)
        engine = Engine(Policy(settings=Settings(pile_on=pile_on)))
        signals = [
            [d.signal for d in engine.feed(message(f"u{i}", "that's simply incorrect",
                                                   T0 + i * MIN, reply_to_author="ana")).detections]
            for i in range(min_authors + 1)
        ]  # fmt: skip
        fired = [i for i, s in enumerate(signals) if Signal.PILE_ON in s]
        assert fired, (min_authors, signals)
        assert fired[0] == min_authors - 1, (min_authors, signals)


# -- pile-on: detect_at and full_pressure ---------------------------------------------------------


def test_pile_on_detected_at_exactly_detect_at_and_not_just_below() -> None:
    settings = PileOnSettings(min_authors=4, full_pressure=4.0, detect_at=0.5)
    at = _pile(PileOnDetector(), ["u1", "u2", "u3", "u4"], settings, pressure=0.5)
    assert at[3] is not None
    assert at[3].score == 0.5
    below = _pile(PileOnDetector(), ["u1", "u2", "u3", "u4"], settings, pressure=0.49)
    assert below[3] is None


def test_pile_on_score_is_summed_pressure_over_full_pressure_capped_at_one() -> None:
    settings = PileOnSettings(min_authors=3, full_pressure=4.0, detect_at=0.1)
    found = _pile(PileOnDetector(), ["u1", "u2", "u3"], settings, pressure=0.6)
    assert found[2] is not None
    assert found[2].score == pytest.approx(1.8 / 4.0)
    capped = _pile(PileOnDetector(), ["u1", "u2", "u3"], replace(settings, full_pressure=1.0))
    assert capped[2] is not None
    assert capped[2].score == 1.0


def test_each_author_counts_once_with_their_strongest_message() -> None:
    settings = PileOnSettings(min_authors=3, full_pressure=3.0, detect_at=0.1)
    detector = PileOnDetector()
    detector.add("ana", T0, "u1", "a", 0.2, False, settings)
    detector.add("ana", T0 + MIN, "u1", "b", 0.8, False, settings)
    detector.add("ana", T0 + 2 * MIN, "u1", "c", 0.3, False, settings)
    detector.add("ana", T0 + 3 * MIN, "u2", "d", 0.5, False, settings)
    found = detector.add("ana", T0 + 4 * MIN, "u3", "e", 0.5, False, settings)
    assert found is not None
    assert found.score == pytest.approx((0.8 + 0.5 + 0.5) / 3.0)
    assert found.evidence == ("a", "b", "c", "d", "e")


def test_newcomers_weigh_newcomer_weight_times_as_much() -> None:
    settings = PileOnSettings(
        min_authors=3, full_pressure=10.0, detect_at=0.01, newcomer_weight=2.0
    )
    detector = PileOnDetector()
    detector.add("ana", T0, "u1", "a", 1.0, True, settings)
    detector.add("ana", T0 + MIN, "u2", "b", 1.0, False, settings)
    found = detector.add("ana", T0 + 2 * MIN, "u3", "c", 1.0, True, settings)
    assert found is not None
    assert found.score == pytest.approx((2.0 + 1.0 + 2.0) / 10.0)
    assert found.newcomers == 2


# -- pile-on: the window --------------------------------------------------------------------------


def test_a_reply_exactly_window_minutes_old_still_counts() -> None:
    settings = replace(AUTHORS_ONLY, window_minutes=15.0)
    detector = PileOnDetector()
    detector.add("ana", T0, "u1", "a", 1.0, False, settings)
    detector.add("ana", T0 + MIN, "u2", "b", 1.0, False, settings)
    detector.add("ana", T0 + 2 * MIN, "u3", "c", 1.0, False, settings)
    found = detector.add("ana", T0 + 15 * MIN, "u4", "d", 1.0, False, settings)
    assert found is not None
    assert found.first_at == T0
    assert found.window_minutes == 15.0


def test_a_reply_just_older_than_the_window_has_expired() -> None:
    settings = replace(AUTHORS_ONLY, window_minutes=15.0)
    detector = PileOnDetector()
    detector.add("ana", T0, "u1", "a", 1.0, False, settings)
    detector.add("ana", T0 + MIN, "u2", "b", 1.0, False, settings)
    detector.add("ana", T0 + 2 * MIN, "u3", "c", 1.0, False, settings)
    assert detector.add("ana", T0 + 15 * MIN + SEC, "u4", "d", 1.0, False, settings) is None


def test_expire_drops_targets_whose_window_emptied_and_keeps_the_rest() -> None:
    detector = PileOnDetector()
    _pile(detector, ["u1", "u2", "u3", "u4"], AUTHORS_ONLY)
    assert detector.is_active("ana")
    detector.expire(T0 + 3 * MIN + 15 * MIN, AUTHORS_ONLY)  # the last reply is exactly 15 min old
    assert detector.is_active("ana")
    detector.expire(T0 + 3 * MIN + 15 * MIN + SEC, AUTHORS_ONLY)
    assert not detector.is_active("ana")
    # A fresh start after the window emptied: a new pile-on, not a late joiner of the old one.
    later = T0 + timedelta(hours=1)
    found = [detector.add("ana", later + i * MIN, f"v{i}", f"n{i}", 1.0, False, AUTHORS_ONLY)
             for i in range(4)]  # fmt: skip
    assert found[3] is not None
    assert not found[3].late_joiner


# -- pile-on: late joiners ------------------------------------------------------------------------


def test_each_new_member_joining_an_active_pile_on_is_a_late_joiner_with_their_position() -> None:
    detector = PileOnDetector()
    _pile(detector, ["u1", "u2", "u3", "u4"], AUTHORS_ONLY)
    late = detector.add("ana", T0 + 5 * MIN, "u5", "m5", 0.3, False, AUTHORS_ONLY)
    assert late is not None
    assert (late.late_joiner, late.position) == (True, 5)
    assert detector.add("ana", T0 + 6 * MIN, "u2", "m6", 1.0, False, AUTHORS_ONLY) is None
    assert detector.add("ana", T0 + 7 * MIN, "w1", "m7", 0.0, False, AUTHORS_ONLY) is None


def test_a_deleted_reply_no_longer_counts_and_an_edit_changes_its_pressure() -> None:
    detector = PileOnDetector()
    _pile(detector, ["u1", "u2", "u3"], AUTHORS_ONLY)
    detector.forget("m0")
    assert detector.add("ana", T0 + 4 * MIN, "u4", "m4", 1.0, False, AUTHORS_ONLY) is None
    edited = PileOnDetector()
    _pile(edited, ["u1", "u2", "u3"], AUTHORS_ONLY)
    edited.update_pressure("m0", 0.0)  # edited into a warm reply: no longer pressure
    assert edited.add("ana", T0 + 4 * MIN, "u4", "m4", 1.0, False, AUTHORS_ONLY) is None
    edited.update_pressure("m0", 0.9)
    assert edited.add("ana", T0 + 5 * MIN, "u5", "m5", 1.0, False, AUTHORS_ONLY) is not None


# -- message pressure -----------------------------------------------------------------------------


def test_warmth_cancels_pressure_only_below_the_attack_and_hostility_thresholds() -> None:
    assert message_pressure(0.29, 0.49, 0.0, 1.0) == 0.0
    assert message_pressure(0.3, 0.0, 0.0, 1.0) == 0.3
    assert message_pressure(0.0, 0.5, 0.0, 1.0) == 0.5
    assert message_pressure(0.0, 0.0, 0.0, 0.0) == 0.15  # a plain reply: attention
    assert message_pressure(0.0, 0.0, 1.0, 0.0) == 0.45  # disagreement
    assert message_pressure(0.9, 0.2, 1.0, 0.0) == 0.9


# -- escalation: min_messages, detect_at, rising --------------------------------------------------


def _heat(settings: EscalationSettings, hostilities: list[float], step: timedelta = 10 * MIN):
    detector = EscalationDetector()
    authors = ["a", "b", "c"]  # three people: no narrowing bonus
    return [
        detector.add(T0 + i * step, authors[i % 3], f"m{i}", h, 0.0, settings)
        for i, h in enumerate(hostilities)
    ]


def test_escalation_waits_for_min_messages() -> None:
    settings = EscalationSettings(
        min_messages=4, detect_at=0.1, full_heat=10.0, half_life_minutes=1e300
    )
    found = _heat(settings, [0.5, 0.5, 0.5, 0.5])  # above detect_at from the second message
    assert found[:3] == [None, None, None]
    assert found[3] is not None


def test_escalation_detected_at_exactly_detect_at_and_not_just_below() -> None:
    # A half-life so long that ten minutes cool nothing, even in floating point.
    settings = EscalationSettings(
        min_messages=2, detect_at=0.5, full_heat=1.0, half_life_minutes=1e300
    )
    at = _heat(settings, [0.25, 0.25])
    assert at[1] is not None
    assert at[1].score == 0.5
    assert _heat(settings, [0.25, 0.24])[1] is None


def test_escalation_is_reported_only_while_the_heat_rises() -> None:
    settings = EscalationSettings(
        min_messages=2, detect_at=0.5, full_heat=1.0, half_life_minutes=10.0
    )
    found = _heat(settings, [0.6, 0.6, 0.0])
    assert found[1] is not None
    assert found[2] is None  # cooling (half an hour of half-lives) while still above detect_at


def test_heat_halves_every_half_life() -> None:
    settings = EscalationSettings(
        min_messages=2, detect_at=0.3, full_heat=1.0, half_life_minutes=10.0
    )
    found = _heat(settings, [0.2, 0.2])  # 0.2 halves to 0.1 in ten minutes, + 0.2 = 0.3
    assert found[1] is not None
    assert found[1].score == pytest.approx(0.3)


# -- long exchange: min_turns, within_minutes, max_hostility --------------------------------------


def _turns(settings: LongExchangeSettings, count: int, step: timedelta, hostility: float = 0.0):
    detector = EscalationDetector()
    return [
        detector.add_turn(
            T0 + i * step, "ana" if i % 2 == 0 else "bo", f"m{i}", hostility, settings
        )
        for i in range(count)
    ]


def test_long_exchange_offered_at_exactly_min_turns() -> None:
    # The opening message starts the exchange; each reply to the other member is one turn.
    settings = LongExchangeSettings(min_turns=6, within_minutes=60.0)
    found = _turns(settings, 8, MIN)
    assert found[:6] == [None] * 6  # the opening message and turns 1..5
    assert found[6] is not None
    assert found[6].turns == 6
    assert found[6].pair == ("ana", "bo")
    assert found[7] is None  # offered once


def test_long_exchange_turns_must_fall_within_within_minutes() -> None:
    settings = LongExchangeSettings(min_turns=4, within_minutes=30.0)
    assert _turns(settings, 5, 10 * MIN)[4] is not None  # 30 minutes from the first turn: in
    assert _turns(settings, 5, 10 * MIN + SEC)[4] is None


def test_a_turn_above_max_hostility_ends_the_exchange_and_one_at_it_does_not() -> None:
    settings = LongExchangeSettings(min_turns=4, within_minutes=60.0, max_hostility=0.35)
    assert _turns(settings, 5, MIN, hostility=0.35)[4] is not None
    assert _turns(settings, 5, MIN, hostility=0.36)[4] is None


# -- levels ---------------------------------------------------------------------------------------


def test_a_level_applies_from_exactly_its_score() -> None:
    levels = (Level(0.5, ("notice",)), Level(0.75, ("notice", "alert_moderators")))
    assert level_actions(levels, 0.49) == ()
    assert level_actions(levels, 0.5) == ("notice",)
    assert level_actions(levels, 0.7499) == ("notice",)
    assert level_actions(levels, 0.75) == ("notice", "alert_moderators")
    assert level_actions(tuple(reversed(levels)), 0.8) == ("notice", "alert_moderators")


@pytest.mark.parametrize(
    ("number", "written"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"),
     (13, "13th"), (20, "20th"), (21, "21st"), (22, "22nd"), (101, "101st"), (111, "111th"),
     (112, "112th"), (121, "121st")],
)  # fmt: skip
def test_ordinals(number: int, written: str) -> None:
    assert ordinal(number) == written


# -- cooldowns and slow mode ----------------------------------------------------------------------

EVERYTHING = ("notice", "private_prompt", "slow_mode", "alert_moderators", "open_longform")
COOL = CooldownSettings(prompt_hours=12.0, notice_minutes=60.0, alert_minutes=30.0)
RESPOND = Settings(
    pile_on=PileOnSettings(levels=(Level(0.5, EVERYTHING),)),
    cooldowns=COOL,
    slow_mode=SlowModeSettings(seconds=60, minutes=20.0),
)


def _finding(at_offset: timedelta = timedelta()) -> PileOnFinding:
    return PileOnFinding("ana", 0.9, ("u1", "u2", "u3", "u4"), ("m1",), 15.0, 0, 4,
                         T0 + at_offset, False)  # fmt: skip


def _respond(responder: Responder, offset: timedelta) -> list[Decision]:
    posted = message("u4", "no", T0 + offset, reply_to_author="ana")
    return list(responder.pile_on(posted, _finding(offset), RESPOND)[1])


def _kinds(decisions: list[Decision]) -> set[type]:
    return {type(d) for d in decisions}


def test_everything_a_level_asks_for_is_decided_the_first_time() -> None:
    decided = _respond(Responder(), timedelta())
    assert _kinds(decided) == {PostNotice, PromptMember, SetSlowMode, AlertModerators,
                               OpenLongformSpace}  # fmt: skip
    (prompt,) = [d for d in decided if isinstance(d, PromptMember)]
    assert (prompt.member, prompt.kind) == ("ana", PromptKind.PILE_ON_TARGET)


@pytest.mark.parametrize(
    ("kind", "cooldown"),
    [(PostNotice, timedelta(minutes=60)), (AlertModerators, timedelta(minutes=30)),
     (PromptMember, timedelta(hours=12)), (OpenLongformSpace, timedelta(hours=12))],
)  # fmt: skip
def test_a_cooldown_holds_until_exactly_its_length_has_passed(
    kind: type, cooldown: timedelta
) -> None:
    responder = Responder()
    assert kind in _kinds(_respond(responder, timedelta()))
    assert kind not in _kinds(_respond(responder, cooldown - SEC)), "repeated within its cooldown"
    assert kind in _kinds(_respond(responder, cooldown)), "still held once the cooldown had passed"


def test_cooldowns_are_per_thread() -> None:
    responder = Responder()
    _respond(responder, timedelta())
    other = message("u4", "no", T0 + MIN, reply_to_author="ana", thread="t2")
    decided = list(responder.pile_on(other, _finding(MIN), RESPOND)[1])
    assert {PostNotice, AlertModerators, PromptMember} <= _kinds(decided)


def test_slow_mode_lasts_its_minutes_and_is_lifted_exactly_then_once() -> None:
    responder = Responder()
    (slow,) = [d for d in _respond(responder, timedelta()) if isinstance(d, SetSlowMode)]
    assert (slow.seconds, slow.until) == (60, T0 + 20 * MIN)
    assert SetSlowMode not in _kinds(_respond(responder, MIN)), "a slowed thread slowed again"
    assert list(responder.due_lifts(T0 + 20 * MIN - SEC)) == []
    (lift,) = responder.due_lifts(T0 + 20 * MIN)
    assert isinstance(lift, LiftSlowMode)
    assert (lift.at, lift.message_id) == (T0 + 20 * MIN, slow.message_id)
    assert lift.evidence.message_ids == (slow.message_id,)
    assert list(responder.due_lifts(T0 + 30 * MIN)) == []
    assert SetSlowMode in _kinds(_respond(responder, 21 * MIN)), "not slowed again after the lift"


def test_cooldowns_are_forgotten_after_a_day_and_not_before() -> None:
    responder = Responder()
    _respond(responder, timedelta())
    remembered = responder.size
    assert remembered > 0
    responder.expire(T0 + timedelta(days=1))
    assert responder.size == remembered
    responder.expire(T0 + timedelta(days=1) + SEC)
    assert responder.size == 1  # only the slow mode (never lifted here) is left


# -- ad hominem: detect_at, and edits -------------------------------------------------------------

ATTACK = "you're an idiot"


def _attack_score() -> float:
    from bot.scoring.embedded import EmbeddedScorer

    engine = Engine(Policy(), EmbeddedScorer())
    found = engine.feed(message("bo", ATTACK, T0, reply_to_author="ana")).detections
    (attack,) = [d for d in found if d.signal is Signal.AD_HOMINEM]
    return attack.score


def _ad_hominem_engine(detect_at: float) -> Engine:
    from bot.core.settings import AdHominemSettings
    from bot.scoring.embedded import EmbeddedScorer

    levels = (Level(0.0, ("private_prompt",)),)
    settings = Settings(ad_hominem=AdHominemSettings(detect_at=detect_at, levels=levels))
    return Engine(Policy(settings=settings), EmbeddedScorer())


def test_an_attack_scoring_exactly_detect_at_is_detected_and_one_just_below_is_not() -> None:
    score = _attack_score()  # whatever the scorer says today: the boundary is what is tested
    at = _ad_hominem_engine(score).feed(message("bo", ATTACK, T0, reply_to_author="ana"))
    assert Signal.AD_HOMINEM in [d.signal for d in at.detections]
    above = _ad_hominem_engine(min(1.0, score + 0.001))
    later = above.feed(message("bo", ATTACK, T0, reply_to_author="ana"))
    assert Signal.AD_HOMINEM not in [d.signal for d in later.detections]


def test_an_edit_that_turns_personal_prompts_its_author_and_a_re_edit_does_not_again() -> None:
    from bot.core.events import MessageEdited

    engine = _ad_hominem_engine(0.3)
    engine.feed(message("li", "we released the hashes", T0, reply_to_author="tom", id="e1"))
    edited = engine.feed(MessageEdited("e1", T0 + MIN, "we released the hashes, you idiot"))
    assert [d.signal for d in edited.detections] == [Signal.AD_HOMINEM]
    assert [(a.member, a.kind) for a in edited.actions if isinstance(a, PromptMember)] == [
        ("li", PromptKind.AD_HOMINEM_AUTHOR)
    ]
    again = engine.feed(MessageEdited("e1", T0 + 2 * MIN, "we released the hashes, you clown"))
    assert again.detections == ()  # already judged an attack: an edit is not a second one
