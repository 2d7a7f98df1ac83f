"""The positive halves of checks that only assert that nothing fires.

A test that only says "no pile-on here" also passes when pile-on detection is broken altogether.
Each test below feeds the same shape of conversation with the one thing changed that should make
the signal fire, so the pair together pins the boundary.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.decisions import Signal
from bot.core.engine import Engine
from bot.core.events import MessageDeleted
from bot.core.settings import Policy
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message
from tests.test_engine import DISAGREE, HOSTILE, _signals


def _engine() -> Engine:
    return Engine(Policy(), EmbeddedScorer())


def test_the_same_replies_from_distinct_authors_are_a_pile_on() -> None:
    # Pairs test_engine.test_pile_on_needs_distinct_authors and test_one_author_is_never_a_pile_on:
    # the same hostile replies, one author each instead of one author for all.
    events = [message(f"u{i}", text, T0 + i * MIN, reply_to_author="ana")
              for i, text in enumerate(HOSTILE)]  # fmt: skip
    assert Signal.PILE_ON in _signals(_engine(), events)


def test_replies_with_pressure_from_as_many_members_as_the_warm_wave_are_a_pile_on() -> None:
    # Pairs test_engine.test_warm_replies_are_never_a_pile_on: as many members, as fast, but
    # disagreeing instead of congratulating, one of them at the person (a pile-on needs
    # pile_on.min_pointed such members: plain disagreement alone is not one).
    authors = ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]
    texts = [HOSTILE[0], *DISAGREE[1:]]
    events = [message(a, texts[i], T0 + i * timedelta(seconds=20), reply_to_author="kwame")
              for i, a in enumerate(authors)]  # fmt: skip
    assert Signal.PILE_ON in _signals(_engine(), events)


def test_a_pile_on_is_still_found_after_one_of_its_messages_is_deleted() -> None:
    # Pairs test_engine.test_deleted_message_leaves_the_evidence, whose check holds vacuously if
    # nothing is detected at all.
    engine = _engine()
    engine.feed(message("u1", HOSTILE[0], T0, reply_to_author="ana", id="gone"))
    engine.feed(MessageDeleted("gone", T0 + MIN))
    found = []
    for i, u in enumerate(["u2", "u3", "u4", "u5", "u6"]):
        found += engine.feed(
            message(u, HOSTILE[i + 1], T0 + (i + 2) * MIN, reply_to_author="ana")
        ).detections
    pile_ons = [d for d in found if d.signal is Signal.PILE_ON]
    assert pile_ons, "no pile-on detected: the evidence check would pass for nothing"
    assert all("gone" not in d.evidence.message_ids for d in pile_ons)
