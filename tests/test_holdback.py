"""The experiment's holdback: deterministic, the stated share, never for alerts or requests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.decisions import (
    AlertModerators,
    Evidence,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    SetSlowMode,
    Signal,
)
from bot.core.events import ConversationKey
from bot.core.holdback import draw, held_back
from tests.builders import MIN, T0


def _notice(i: int, community: str = "discord:1") -> PostNotice:
    return PostNotice(ConversationKey(community, "general", f"t{i % 97}"), f"m{i}", T0,
                      Signal.ESCALATION, "heating up", Evidence(), text="A notice.")  # fmt: skip


def test_holdback_is_deterministic() -> None:
    first = [held_back(_notice(i), 0.1, "salt") for i in range(2_000)]
    again = [held_back(_notice(i), 0.1, "salt") for i in range(2_000)]
    assert first == again
    assert draw("discord:1", "x", "salt") == draw("discord:1", "x", "salt")


@pytest.mark.parametrize("share", [0.1, 0.5])
def test_holdback_share_over_10000_decisions(share: float) -> None:
    held = sum(held_back(_notice(i), share, "") for i in range(10_000))
    # 4 standard deviations of a binomial(10,000, share): a wrong hash would miss by far more.
    sd = (10_000 * share * (1 - share)) ** 0.5
    assert abs(held - 10_000 * share) < 4 * sd


def test_salt_and_community_change_the_draw() -> None:
    base = [held_back(_notice(i), 0.5, "a") for i in range(500)]
    assert base != [held_back(_notice(i), 0.5, "b") for i in range(500)]
    assert base != [held_back(_notice(i, "discord:2"), 0.5, "a") for i in range(500)]


def test_zero_holds_back_nothing_and_one_everything_eligible() -> None:
    assert not any(held_back(_notice(i), 0.0, "") for i in range(1_000))
    assert all(held_back(_notice(i), 1.0, "") for i in range(1_000))


def test_alerts_and_requested_spaces_are_never_held_back() -> None:
    notice = _notice(1)
    alert = AlertModerators(*_parts(notice), text="Look here.")
    requested = OpenLongformSpace(*_parts(notice), title="t", template=(), participants=(),
                                  key_messages=(), text="x", requested_by="mod")  # fmt: skip
    assert not held_back(alert, 1.0, "")
    assert not held_back(requested, 1.0, "")
    assert held_back(replace(requested, requested_by=""), 1.0, "")


def test_a_slow_mode_and_its_lift_share_an_arm() -> None:
    for i in range(300):
        parts = _parts(_notice(i))
        slow = SetSlowMode(*parts, seconds=60, until=T0 + 20 * MIN)
        lift = LiftSlowMode(*parts)
        assert (
            held_back(slow, 0.3, "s")
            == held_back(lift, 0.3, "s")
            == held_back(_notice(i), 0.3, "s")
        )


def _parts(notice: PostNotice) -> tuple:
    return (
        notice.conversation,
        notice.message_id,
        notice.at,
        notice.signal,
        notice.reason,
        notice.evidence,
    )
