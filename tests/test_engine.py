from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.decisions import LiftSlowMode, PromptKind, PromptMember, SetSlowMode, Signal, merge
from bot.core.engine import Engine
from bot.core.events import MessageDeleted
from bot.core.settings import Policy
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message

HOSTILE = ["you clearly don't understand this", "people like you are the problem",
           "did you even finish training?", "you're only saying this because you're paid",
           "typical doctor, no idea", "you're an idiot", "bless your heart"]  # fmt: skip
DISAGREE = ["that's wrong and dangerous advice", "this is misleading", "no evidence for that",
            "I disagree, this is outdated", "that's simply incorrect", "this is reckless",
            "false, see the trial data"]  # fmt: skip
WARM = ["congrats!!", "so well deserved", "holy shit, amazing news!", "you absolute legend",
        "brilliant, well done", "thank you for sharing", "great point, agreed"]  # fmt: skip


def _engine() -> Engine:
    return Engine(Policy(), EmbeddedScorer())


def _signals(engine: Engine, events: list) -> list[Signal]:
    return [d.signal for e in events for d in engine.feed(e).detections]


def test_pile_on_needs_distinct_authors() -> None:
    engine = _engine()
    events = [
        message("bo", text, T0 + i * MIN, reply_to_author="ana") for i, text in enumerate(HOSTILE)
    ]
    assert Signal.PILE_ON not in _signals(engine, events)


def test_pile_on_detected_and_late_joiner_told_their_position() -> None:
    engine = _engine()
    authors = ["u1", "u2", "u3", "u4", "u5", "u6"]
    # Disagreement, and one reply aimed at ana herself: what makes many repliers a pile-on.
    texts = [DISAGREE[0], HOSTILE[2], *DISAGREE[2:6]]
    decisions = [engine.feed(message(a, texts[i], T0 + i * MIN, reply_to_author="ana"))
                 for i, a in enumerate(authors)]  # fmt: skip
    signals = [d.signal for ds in decisions for d in ds.detections]
    assert Signal.PILE_ON in signals
    prompts = [a for ds in decisions for a in ds.actions if isinstance(a, PromptMember)]
    assert any(p.member == "ana" and p.kind is PromptKind.PILE_ON_TARGET for p in prompts)
    late = [p for p in prompts if p.kind is PromptKind.LATE_JOINER]
    assert late
    assert "6th person replying to ana" in late[-1].text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"]),
                          st.sampled_from(WARM)), min_size=1, max_size=30))  # fmt: skip
def test_warm_replies_are_never_a_pile_on(replies: list[tuple[str, str]]) -> None:
    engine = _engine()
    events = [message(a, t, T0 + i * timedelta(seconds=20), reply_to_author="kwame")
              for i, (a, t) in enumerate(replies)]  # fmt: skip
    assert Signal.PILE_ON not in _signals(engine, events)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(HOSTILE + WARM), min_size=1, max_size=30))
def test_one_author_is_never_a_pile_on(texts: list[str]) -> None:
    engine = _engine()
    events = [message("bo", t, T0 + i * timedelta(seconds=20), reply_to_author="ana")
              for i, t in enumerate(texts)]  # fmt: skip
    assert Signal.PILE_ON not in _signals(engine, events)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4", "u5", "ana"]),
                          st.sampled_from(HOSTILE + WARM)), min_size=1, max_size=25))  # fmt: skip
def test_same_events_give_same_decisions(replies: list[tuple[str, str]]) -> None:
    events = [message(a, t, T0 + i * MIN, reply_to_author="ana", id=f"x{i}")
              for i, (a, t) in enumerate(replies)]  # fmt: skip
    first_engine = _engine()
    first = [first_engine.feed(e) for e in events]
    second_engine = _engine()
    assert [second_engine.feed(e) for e in events] == first


def test_merge_is_idempotent_and_keeps_most_severe() -> None:
    engine = _engine()
    out = [a for i, u in enumerate(["u1", "u2", "u3", "u4", "u5"])
           for a in engine.feed(message(u, HOSTILE[i], T0 + i * MIN, reply_to_author="ana"))]  # fmt: skip
    merged = merge(out)
    assert merge(merged) == merged
    assert merge(merged + merged) == merged


def test_slow_mode_is_lifted_on_tick() -> None:
    engine = _engine()
    actions = [a for i, u in enumerate(["u1", "u2", "u3", "u4", "u5", "u6", "u7"])
               for a in engine.feed(message(u, HOSTILE[i], T0 + i * MIN, reply_to_author="ana"))]  # fmt: skip
    slow = [a for a in actions if isinstance(a, SetSlowMode)]
    assert len(slow) == 1
    assert not engine.tick(slow[0].until - MIN).actions
    lifted = engine.tick(slow[0].until).actions
    assert len(lifted) == 1
    assert isinstance(lifted[0], LiftSlowMode)
    assert not engine.tick(slow[0].until + MIN).actions


def test_deleted_message_leaves_the_evidence() -> None:
    engine = _engine()
    first = message("u1", HOSTILE[0], T0, reply_to_author="ana", id="gone")
    engine.feed(first)
    engine.feed(MessageDeleted("gone", T0 + MIN))
    found = []
    for i, u in enumerate(["u2", "u3", "u4", "u5", "u6"]):
        found += engine.feed(
            message(u, HOSTILE[i + 1], T0 + (i + 2) * MIN, reply_to_author="ana")
        ).detections
    assert all("gone" not in d.evidence.message_ids for d in found)


def test_memory_stays_bounded_over_many_conversations() -> None:
    engine = _engine()
    for i in range(5000):
        engine.feed(
            message(f"u{i % 50}", "a fair point about dosing", T0 + i * MIN, thread=f"t{i}")
        )
    size = engine.size
    # Idle conversations (6 h) and old messages (24 h) are swept every 1,024 events.
    assert size["conversations"] <= 6 * 60 + 1024
    assert size["messages"] <= 24 * 60 + 1024
    assert size["conversations"] < 5000


def test_edit_that_turns_personal_is_judged_again() -> None:
    from bot.core.events import MessageEdited

    engine = _engine()
    engine.feed(message("li", "we released the hashes", T0, reply_to_author="tom", id="e1"))
    edited = engine.feed(MessageEdited("e1", T0 + MIN, "we released the hashes, learn to read"))
    assert [d.signal for d in edited.detections] == [Signal.AD_HOMINEM]
    assert edited.detections[0].target == "tom"
