"""More of the core's behaviour, found unchecked by mutation testing (issue 18, seed 32): the newcomer
window at its edge, an exempt member's reply found through ``reply_to``, where the newest author
stands in a pile-on, the evidence and cue a detection carries, the long-exchange offer's
``{explanation}``, clauses cut within their own sentence, a moderator's space anchored at the
message asked from, the escalation's memory bounded after a deletion, and one-field events that
pickle."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.core.decisions import Decisions, OpenLongformSpace, PostNotice, Signal
from bot.core.engine import Engine
from bot.core.escalation import EscalationDetector, EscalationFinding, LongExchangeFinding
from bot.core.events import Compact, ConversationKey, MemberJoined, MessagePosted, fields_of
from bot.core.pile_on import PileOnDetector, PileOnFinding
from bot.core.responses import Responder
from bot.core.settings import EscalationSettings, PileOnSettings, Policy, Settings
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message

HERE = ConversationKey("c", "general", "t1")  # where tests.builders.message posts
US = timedelta(microseconds=1)


# -- who counts as a newcomer, and who is exempt -----------------------------------------------------


def _pile_on_explanations(joined_at: datetime) -> list[str]:
    from tests.test_engine import DISAGREE, HOSTILE

    engine = Engine(Policy(), EmbeddedScorer())
    authors = ["u1", "u2", "u3", "u4", "u5", "u6"]
    engine.feed(MemberJoined(joined_at, "c", "u2"))
    for i, author in enumerate(authors):  # everyone has been in the thread for half an hour
        engine.feed(message(author, "Interesting paper, reading it now.", T0 + i * MIN))
    texts = [DISAGREE[0], HOSTILE[2], *DISAGREE[2:6]]
    found: list[str] = []
    for i, author in enumerate(authors):
        step = engine.feed(message(author, texts[i], T0 + (30 + i) * MIN, reply_to_author="ana"))
        found += [d.explanation for d in step.detections if d.signal is Signal.PILE_ON]
    return found


def test_a_member_who_joined_exactly_newcomer_hours_ago_is_still_a_newcomer() -> None:
    u2_replies_at = T0 + 31 * MIN  # u2's reply to ana (see _pile_on_explanations)
    hours = timedelta(hours=Policy().settings.pile_on.newcomer_hours)
    at_the_edge = _pile_on_explanations(u2_replies_at - hours)
    assert at_the_edge, "no pile-on"
    assert all(e.endswith(", 1 of them new to the thread or community") for e in at_the_edge)
    past_it = _pile_on_explanations(u2_replies_at - hours - US)
    assert past_it, "no pile-on"
    assert all("new to the thread" not in e for e in past_it), past_it


def _reply_by(roles: frozenset[str]) -> MessagePosted:
    # Replies to ana's message by its id only: the engine finds who wrote it.
    return MessagePosted(id="x1", at=T0 + MIN, community="c", channel="general", thread="t1",
                         author="bo", text="You're an idiot, did you even finish residency?",
                         reply_to="a1", author_roles=roles)  # fmt: skip


def test_an_exempt_member_replying_by_message_id_stays_exempt() -> None:
    policy = Policy()
    exempt = replace(policy, settings=replace(policy.settings, exempt_roles=("mod",)))
    judged = {}
    for roles in (frozenset({"mod"}), frozenset()):
        engine = Engine(exempt, EmbeddedScorer())
        engine.feed(message("ana", "The trial excluded patients over 65.", T0, id="a1"))
        judged[roles] = engine.feed(_reply_by(roles))
    assert judged[frozenset({"mod"})] == Decisions()
    attacks = [d for d in judged[frozenset()].detections if d.signal is Signal.AD_HOMINEM]
    assert [d.target for d in attacks] == ["ana"]  # the positive half: found as ana's reply


# -- the pile-on's finding and what it carries -------------------------------------------------------


def test_the_newest_author_stands_where_they_first_came_in_the_pile_on() -> None:
    settings = PileOnSettings(min_authors=3, min_pointed=1, full_pressure=1.0, detect_at=0.01)
    detector = PileOnDetector()
    # Three mild replies: enough members, none pointed, so no pile-on yet.
    for i, author in enumerate(("u1", "u2", "u3")):
        assert detector.add("ana", T0 + i * MIN, author, f"m{i}", 0.2, False, settings) is None
    found = detector.add("ana", T0 + 3 * MIN, "u1", "m3", 0.9, False, settings)  # u1, pointed now
    assert found is not None
    assert (found.authors, found.position) == (("u1", "u2", "u3"), 1)


def _finding(**changes: object) -> PileOnFinding:
    values: dict[str, object] = {
        "target": "ana", "score": 0.8, "authors": ("u1", "u2", "u3", "u4"),
        "evidence": ("m1", "m2", "m3", "m4"), "window_minutes": 15.0, "newcomers": 0,
        "position": 4, "first_at": T0, "late_joiner": False,
    }  # fmt: skip
    return PileOnFinding(**{**values, **changes})  # type: ignore[arg-type]


def test_a_pile_ons_detection_and_decisions_carry_its_score_as_evidence() -> None:
    reply = message("u4", "Not this again.", T0 + 4 * MIN, reply_to_author="ana", id="m4")
    detection, actions = Responder().pile_on(reply, _finding(), Settings())
    assert detection.evidence.scores == (("pile_on", 0.8),)
    assert detection.evidence.message_ids == ("m1", "m2", "m3", "m4")
    assert actions
    assert all(a.evidence == detection.evidence for a in actions)


def test_an_escalation_is_cued_as_rising_heat() -> None:
    hot = message("bo", "This is absurd.", T0, id="m9")
    detection, _ = Responder().escalation(hot, EscalationFinding(0.7, ("m9",), ("bo",)), Settings())
    assert (detection.signal, detection.cue) == (Signal.ESCALATION, "rising heat")
    assert detection.evidence.scores == (("heat", 0.7),)


def test_a_long_exchange_offer_can_say_why_with_its_explanation() -> None:
    settings = Settings()
    own = replace(
        settings, prompts=replace(settings.prompts, long_exchange_offer="Why: {explanation}.")
    )
    turn = message("bo", "Fair point, but the cohort was small.", T0, id="m8")
    finding = LongExchangeFinding(("ana", "bo"), 6, ("m3", "m8"))
    detection, actions = Responder().long_exchange(turn, finding, own)
    notices = [a for a in actions if isinstance(a, PostNotice)]
    assert [n.text for n in notices] == ["Why: ana and bo have exchanged 6 civil turns."]
    assert (detection.cue, detection.target) == ("long civil exchange", "ana")


# -- rephrasing: clauses stay within their sentence --------------------------------------------------


def test_a_claim_before_a_later_sentences_jab_is_kept_whole() -> None:
    from bot.core.rephrase import split_claim

    found = split_claim(
        "The trial excluded patients over 65. Frankly you are an idiot, honestly.", ("idiot",)
    )
    assert found.claim == "The trial excluded patients over 65"


# -- requests ----------------------------------------------------------------------------------------


def test_a_moderators_space_is_anchored_at_the_message_they_asked_from() -> None:
    from bot.core.requests import ModeratorRequested, Requested, decide

    ask = ModeratorRequested(Requested.LONGFORM, HERE, "Mo", T0 + MIN, "m7")
    (space,) = decide(ask, Settings()).actions
    assert isinstance(space, OpenLongformSpace)
    assert (space.message_id, space.evidence.message_ids, space.key_messages) == (
        "m7", ("m7",), ("m7",)
    )  # fmt: skip
    assert space.requested_by == "Mo"


# -- memory ------------------------------------------------------------------------------------------


def test_the_escalations_recent_memory_stays_bounded_after_a_deletion() -> None:
    # Heat never cools and never saturates, so every rising message is reported, and its
    # evidence is drawn from the recent messages only: the hottest early ones age out.
    settings = EscalationSettings(min_messages=2, detect_at=0.01, full_heat=100.0,
                                  half_life_minutes=1e300)  # fmt: skip
    detector = EscalationDetector()
    authors = ["a", "b", "c"]
    for i in range(4):  # four very hot messages first
        detector.add(T0 + i * 10 * MIN, authors[i % 3], f"hot{i}", 1.0, 0.0, settings)
    detector.forget("gone")  # a deletion (of a message it never saw)
    last = None
    for i in range(4, 30):
        last = detector.add(T0 + i * 10 * MIN, authors[i % 3], f"m{i}", 0.1, 0.0, settings)
    assert last is not None
    assert not any(m.startswith("hot") for m in last.evidence), last.evidence


@dataclass(frozen=True, slots=True)
class _OneField(Compact):
    at: datetime


def test_an_event_of_one_field_pickles_and_reads_its_field() -> None:
    one = _OneField(T0)
    assert fields_of(_OneField)(one) == (T0,)
    assert pickle.loads(pickle.dumps(one)) == one


def test_a_conversation_restored_from_a_format_2_snapshot_keeps_a_bounded_heat_log() -> None:
    # Format 2 predates the heat log (and the outcome tracker): the restored conversation gets
    # an empty one, as bounded as a new conversation's.
    import json

    first = Engine(Policy())
    first.feed(message("ana", "The cohort was small.", T0))
    snapshot = json.loads(json.dumps(first.snapshot()))
    state = snapshot["state"]
    del state["_outcomes"]
    for _, conversation in state["_conversations"]["$ordered"]:
        del conversation["fields"]["heat_log"]
    restored = Engine.restore(Policy(), None, {"format": 2, "state": state})
    for i in range(1, 100):
        restored.feed(
            message("bo" if i % 2 else "ana", f"Point {i} about the cohort.", T0 + i * MIN)
        )
    fresh = Engine(Policy())
    for i in range(100):
        fresh.feed(message("bo" if i % 2 else "ana", f"Point {i} about the cohort.", T0 + i * MIN))
    logged = json.loads(json.dumps(restored.snapshot()))["state"]["_conversations"]["$ordered"]
    expected = json.loads(json.dumps(fresh.snapshot()))["state"]["_conversations"]["$ordered"]
    (heat_log,) = [c["fields"]["heat_log"] for _, c in logged]
    (fresh_log,) = [c["fields"]["heat_log"] for _, c in expected]
    assert len(heat_log["$deque"]) == len(fresh_log["$deque"]) < 99
    assert heat_log["maxlen"] == fresh_log["maxlen"]
