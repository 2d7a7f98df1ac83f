"""People's requests as core events: what a moderator's or member's click decides, on every platform.

Both platforms used to build these decisions themselves, and drifted: Discord keyed a moderator's
"slow down" by the alert message, Telegram by the message the engine acted on, whose key the
outbox already held for the engine's own slow mode, so the moderator's request was dropped.
"""

from __future__ import annotations

from bot.core.decisions import (
    AlertModerators,
    Evidence,
    OpenLongformSpace,
    PostNotice,
    SetSlowMode,
    Signal,
)
from bot.core.events import ConversationKey
from bot.core.requests import MemberRequested, ModeratorRequested, Requested, decide, title
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
