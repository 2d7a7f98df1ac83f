"""People's requests as core events: what a moderator's or member's click decides, on every platform.

Both platforms used to build these decisions themselves, and drifted: Discord keyed a moderator's
"slow down" by the alert message, Telegram by the message the engine acted on, whose key the
outbox already held for the engine's own slow mode, so the moderator's request was dropped.
"""

from __future__ import annotations

import pytest

from bot.core.decisions import (
    AlertModerators,
    Evidence,
    OpenLongformSpace,
    PostNotice,
    SetSlowMode,
    Signal,
    UndoActions,
)
from bot.core.events import ConversationKey
from bot.core.requests import (
    MemberRequested,
    ModeratorRequested,
    OptOut,
    Requested,
    answer,
    decide,
    explain,
    title,
)
from bot.core.settings import LongformSettings, Settings
from bot.storage.codec import decision_key
from tests.builders import MIN, T0

HERE = ConversationKey("discord:1", "10", "11")
SETTINGS = Settings()


def _alert() -> AlertModerators:
    return AlertModerators(HERE, "m7", T0, Signal.PILE_ON, "a pile-on", Evidence(("m5", "m7")),
                           text="Many replies to one member.")  # fmt: skip


def _engine_slow_mode() -> SetSlowMode:
    return SetSlowMode(HERE, "m7", T0, Signal.PILE_ON, "heated", Evidence(("m7",)), seconds=60,
                       until=T0 + 20 * MIN)  # fmt: skip


def _slow_down(clicked: str) -> ModeratorRequested:
    return ModeratorRequested(Requested.SLOW_DOWN, HERE, "Mod", T0 + MIN, clicked, _alert())


def test_a_moderators_slow_down_is_not_dropped_as_a_repeat_of_the_engines_slow_mode() -> None:
    (asked,) = decide(_slow_down("alert-1"), SETTINGS)
    assert isinstance(asked, SetSlowMode)
    assert decision_key(asked, "discord") != decision_key(_engine_slow_mode(), "discord")
    assert decision_key(asked, "telegram") != decision_key(_engine_slow_mode(), "telegram")


def test_a_second_click_on_the_same_alert_asks_nothing_new() -> None:
    (first,) = decide(_slow_down("alert-1"), SETTINGS)
    (again,) = decide(_slow_down("alert-1"), SETTINGS)
    assert decision_key(first, "telegram") == decision_key(again, "telegram")


def test_slow_down_lasts_as_the_policy_says_from_the_request() -> None:
    (asked,) = decide(_slow_down("alert-1"), SETTINGS)
    assert isinstance(asked, SetSlowMode)
    assert asked.seconds == SETTINGS.slow_mode.seconds
    assert asked.until == T0 + MIN + SETTINGS.slow_mode.minutes * MIN
    assert asked.evidence == _alert().evidence


def test_the_topic_is_filled_in_once_by_the_core() -> None:
    custom = LongformSettings(title="Long form about {topic}")
    assert title(custom, "11") == "Long form about 11"
    move = ModeratorRequested(Requested.LONGFORM, HERE, "Mod", T0, "m9")
    (space,) = decide(move, SETTINGS)
    assert isinstance(space, OpenLongformSpace)
    assert space.title == SETTINGS.longform.title.replace("{topic}", "11")
    assert space.key_messages == ("m9",)
    assert "Mod" in space.reason


def test_a_moderators_own_title_wins() -> None:
    move = ModeratorRequested(Requested.LONGFORM, HERE, "Mod", T0, "m9", title="Budget")
    (space,) = decide(move, SETTINGS)
    assert isinstance(space, OpenLongformSpace)
    assert space.title == "Budget"


def test_a_members_request_invites_them_and_quotes_the_notices_evidence() -> None:
    notice = PostNotice(HERE, "m7", T0, Signal.PILE_ON, "r", Evidence(("m5", "m7")), text="Slower?")
    ask = MemberRequested(Requested.LONGFORM, HERE, "42", "Ana", T0 + MIN, "notice-1", notice)
    (space,) = decide(ask, SETTINGS)
    assert isinstance(space, OpenLongformSpace)
    assert (space.participants, space.requested_by) == (("42",), "42")
    assert space.key_messages == ("m5", "m7")
    assert space.message_id == "notice-1"
    assert space.reason.startswith("Requested by Ana")


def test_consent_to_an_offer_adds_the_member_once_and_marks_it_asked_for() -> None:
    offer = OpenLongformSpace(HERE, "m7", T0, Signal.ESCALATION, "r", Evidence(("m7",)), title="T",
                              template=(), participants=("42",), key_messages=("m7",), text="x")  # fmt: skip
    ask = MemberRequested(Requested.CONSENT, HERE, "42", "Ana", T0 + MIN, "offer-1", offer)
    (space,) = decide(ask, SETTINGS)
    assert isinstance(space, OpenLongformSpace)
    assert space.participants == ("42",)
    assert space.requested_by == "42"
    assert space.message_id == "offer-1"


def test_consent_to_something_that_is_not_an_offer_decides_nothing() -> None:
    ask = MemberRequested(Requested.CONSENT, HERE, "42", "Ana", T0, "x", _alert())
    assert not decide(ask, SETTINGS).actions


# -- undo, why and opt-out: core events too (issue 15) --------------------------------------------


def _undo(clicked: str = "alert-1", about: AlertModerators | None = None) -> ModeratorRequested:
    return ModeratorRequested(Requested.UNDO, HERE, "Mod", T0 + MIN, clicked,
                              about if about is not None else _alert(), about_key="k" * 32)  # fmt: skip


def test_an_undo_is_a_decision_naming_the_decision_undone_and_the_moderator() -> None:
    (undo,) = decide(_undo(), SETTINGS)
    assert isinstance(undo, UndoActions)
    assert (undo.undone, undo.by, undo.conversation) == ("k" * 32, "Mod", HERE)
    assert undo.message_id == "alert-1"  # keyed by the alert clicked, like every request
    assert undo.evidence == _alert().evidence
    assert "Mod" in undo.reason


def test_an_undo_keyed_by_its_alert_is_its_own_outbox_item_and_repeats_drop() -> None:
    (first,) = decide(_undo("alert-1"), SETTINGS)
    (again,) = decide(_undo("alert-1"), SETTINGS)
    (other,) = decide(_undo("alert-2"), SETTINGS)
    assert decision_key(first, "matrix") == decision_key(again, "matrix")
    assert decision_key(first, "matrix") != decision_key(other, "matrix")
    assert decision_key(first, "matrix") != decision_key(_alert(), "matrix")


def test_an_undo_from_no_decision_decides_nothing() -> None:
    request = ModeratorRequested(Requested.UNDO, HERE, "Mod", T0, "cmd-1")
    assert decide(request, SETTINGS).actions == ()


def test_why_and_opt_out_act_on_no_conversation_and_are_answered() -> None:
    why = MemberRequested(Requested.WHY, HERE, "u1", "Ana", T0, "n1", about=_alert())
    out = MemberRequested(Requested.OPT_OUT, HERE, "u1", "Ana", T0, "c1", scope="discord:1")
    back = MemberRequested(Requested.OPT_IN, HERE, "u1", "Ana", T0, "c2")
    assert [decide(r, SETTINGS).actions for r in (why, out, back)] == [(), (), ()]
    explained = answer(why).explanation
    assert explained is not None
    assert (explained.reason, explained.evidence) == ("a pile-on", ("m5", "m7"))
    assert answer(out).opt_out == OptOut("u1", "discord:1", opted_out=True)
    assert answer(back).opt_out == OptOut("u1", "", opted_out=False)
    assert answer(out).explanation is None
    assert answer(why).opt_out is None


def test_why_about_no_decision_explains_nothing() -> None:
    asked = MemberRequested(Requested.WHY, HERE, "u1", "Ana", T0, "m3")
    assert answer(asked).explanation is None


def test_acting_requests_are_decided_not_answered() -> None:
    consent = MemberRequested(Requested.CONSENT, HERE, "u1", "Ana", T0, "n1", about=_alert())
    with pytest.raises(ValueError, match="acts on a conversation"):
        answer(consent)


def test_a_members_long_form_request_from_no_notice_decides_nothing() -> None:
    asked = MemberRequested(Requested.LONGFORM, HERE, "u1", "Ana", T0, "m3")
    assert decide(asked, SETTINGS).actions == ()


def test_an_explanation_reads_as_one_paragraph_with_at_most_five_messages() -> None:
    evidence = Evidence(tuple(f"m{i}" for i in range(7)), (("attack", 0.91), ("heat", 0.5)))
    alert = AlertModerators(HERE, "m6", T0, Signal.AD_HOMINEM, "Personal.", evidence, text="")
    text = explain(alert).text()
    assert text.startswith("Personal. Messages considered: m0, m1, m2, m3, m4 and 2 more.")
    assert "Scores: attack 0.91, heat 0.50." in text
    assert text.endswith("moderators decide.")
