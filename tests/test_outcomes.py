"""Outcomes of interventions, measured by the engine from the events that follow them."""

from __future__ import annotations

import json

from adapters.replay.reader import parse_event
from bot.core.decisions import OpenLongformSpace, PromptKind, PromptMember, SetSlowMode
from bot.core.engine import Engine
from bot.core.events import (
    ConversationKey,
    Event,
    LongformOpened,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
)
from bot.core.outcomes import OutcomeRecord
from bot.core.settings import Policy
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message
from tests.runtime_support import DEMO
from tests.test_engine import DISAGREE, HOSTILE

ATTACK = "You clearly don't understand this. The trial excluded patients over 65, so it says nothing about them."


def _engine() -> Engine:
    return Engine(Policy(), EmbeddedScorer())


def _settled(engine: Engine, events: list, until_minutes: float = 120) -> list[OutcomeRecord]:
    found: list[OutcomeRecord] = []
    for event in events:
        found.extend(engine.feed(event).outcomes)
    found.extend(engine.tick(T0 + until_minutes * MIN).outcomes)
    return found


def _one(records: list[OutcomeRecord], action: str) -> dict[str, float]:
    matching = [r for r in records if r.action == action]
    assert len(matching) == 1, [r.action for r in records]
    return dict(matching[0].measures)


def test_author_who_edits_after_a_prompt_is_measured_as_edited_below_threshold() -> None:
    engine = _engine()
    attack = message("bo", ATTACK, T0, reply_to_author="ana", id="a1")
    decided = engine.feed(attack)
    assert any(
        isinstance(a, PromptMember) and a.kind is PromptKind.AD_HOMINEM_AUTHOR for a in decided
    )
    edit = MessageEdited(
        "a1", T0 + 4 * MIN, "The trial excluded patients over 65, so it says nothing about them."
    )
    later = message(
        "bo", "Happy to share the subgroup table if useful.", T0 + 20 * MIN, reply_to_author="ana"
    )
    measures = _one(_settled(engine, [edit, later]), "prompt_member:ad_hominem_author")
    assert measures["edited"] == 1.0
    assert measures["edit_below_threshold"] == 1.0
    assert measures["deleted"] == 0.0
    assert measures["posted_again"] == 1.0
    assert measures["later_heat"] < measures["earlier_heat"]


def test_edit_after_the_edit_window_does_not_count() -> None:
    engine = _engine()
    engine.feed(message("bo", ATTACK, T0, reply_to_author="ana", id="a2"))
    edit = MessageEdited("a2", T0 + 30 * MIN, "The trial excluded patients over 65.")
    measures = _one(_settled(engine, [edit]), "prompt_member:ad_hominem_author")
    assert measures["edited"] == 0.0
    assert measures["posted_again"] == 0.0
    assert "later_heat" not in measures


def test_author_who_deletes_is_measured_as_deleted() -> None:
    engine = _engine()
    engine.feed(message("bo", ATTACK, T0, reply_to_author="ana", id="a3"))
    measures = _one(
        _settled(engine, [MessageDeleted("a3", T0 + 2 * MIN)]), "prompt_member:ad_hominem_author"
    )
    assert measures["deleted"] == 1.0


def _pile_on(engine: Engine) -> list:
    authors = ["u1", "u2", "u3", "u4", "u5", "u6"]
    texts = [DISAGREE[0], HOSTILE[2], *DISAGREE[2:6]]
    decided = [
        engine.feed(message(a, texts[i], T0 + i * MIN, reply_to_author="ana"))
        for i, a in enumerate(authors)
    ]
    return [a for d in decided for a in d.actions]


def test_joiner_who_replies_anyway_is_measured() -> None:
    engine = _engine()
    actions = _pile_on(engine)
    late = [a for a in actions if isinstance(a, PromptMember) and a.kind is PromptKind.LATE_JOINER]
    assert late
    joiner = late[0].member
    anyway = message(joiner, "you're an idiot, as I said", T0 + 10 * MIN, reply_to_author="ana")
    records = _settled(engine, [anyway])
    mine = [
        dict(r.measures)
        for r in records
        if r.action == "prompt_member:late_joiner" and r.recipient == joiner
    ]
    assert mine
    assert mine[0]["replied_to_target"] == 1.0
    assert mine[0]["reply_heat"] > 0.5
    others = [
        dict(r.measures)
        for r in records
        if r.action == "prompt_member:late_joiner" and r.recipient != joiner
    ]
    assert all(m["replied_to_target"] == 0.0 for m in others)


def test_target_who_writes_again_stayed() -> None:
    engine = _engine()
    _pile_on(engine)
    stay = message("ana", "Thanks all, I'll write up the evidence tonight.", T0 + 30 * MIN)
    assert _one(_settled(engine, [stay]), "prompt_member:pile_on_target")["stayed"] == 1.0


def test_thread_that_cools_after_slow_mode() -> None:
    engine = _engine()
    actions = [a for i, u in enumerate(["u1", "u2", "u3", "u4", "u5", "u6", "u7"])
               for a in engine.feed(message(u, HOSTILE[i], T0 + i * MIN, reply_to_author="ana"))]  # fmt: skip
    slow = [a for a in actions if isinstance(a, SetSlowMode)]
    assert len(slow) == 1
    start = slow[0].at
    calm = [message("u1", "Fair enough, let me re-read the guideline.", start + 20 * MIN),
            message("u2", "Thanks for the link.", start + 50 * MIN)]  # fmt: skip
    records = _settled(engine, calm, until_minutes=200)
    measures = _one(records, "set_slow_mode")
    assert measures["heat_before"] > 1.0
    assert measures["heat_60"] < measures["heat_before"]
    assert measures["change_60"] < 0


def test_outcomes_settle_once_and_only_after_the_window() -> None:
    engine = _engine()
    engine.feed(message("bo", ATTACK, T0, reply_to_author="ana"))
    assert not engine.tick(T0 + 59 * MIN).outcomes
    assert len(engine.tick(T0 + 61 * MIN).outcomes) == 1
    assert not engine.tick(T0 + 200 * MIN).outcomes


def test_watched_interventions_survive_a_snapshot() -> None:
    engine = _engine()
    engine.feed(message("bo", ATTACK, T0, reply_to_author="ana", id="s1"))
    engine.feed(MessageEdited("s1", T0 + 3 * MIN, "The trial excluded patients over 65."))
    stored = json.loads(json.dumps(engine.snapshot()))
    restored = Engine.restore(Policy(), EmbeddedScorer(), stored)
    assert restored.size["watched"] == 1
    measures = dict(restored.tick(T0 + 2 * 60 * MIN).outcomes[0].measures)
    assert measures["edited"] == 1.0


def test_a_format_2_snapshot_restores_with_nothing_watched() -> None:
    engine = _engine()
    engine.feed(message("bo", ATTACK, T0, reply_to_author="ana"))
    old = engine.snapshot()
    state = dict(old["state"])  # type: ignore[arg-type]
    del state["_outcomes"]
    restored = Engine.restore(Policy(), None, {"format": 2, "state": state})
    assert restored.size["watched"] == 0


def test_outcome_records_hold_no_text() -> None:
    engine = _engine()
    engine.feed(message("bo", ATTACK, T0, reply_to_author="ana"))
    record = engine.tick(T0 + 2 * 60 * MIN).outcomes[0]
    assert "trial" not in repr(record)
    assert "trial" not in json.dumps(engine.snapshot())


# -- who moved to the long-form space and wrote there (issue 17) ---------------------------------


def _bundled(name: str) -> list[Event]:
    lines = (DEMO / name).read_text().splitlines()
    return [parse_event(json.loads(line)) for line in lines if line.strip()]


def _space_decided(engine: Engine) -> tuple[OpenLongformSpace, list[str]]:
    """The pile-on conversation up to the engine's long-form space; its authors so far."""
    authors: list[str] = []
    for event in _bundled("01_pile_on_clinician.jsonl"):
        if isinstance(event, MessagePosted):
            authors.append(event.author)
        spaces = [a for a in engine.feed(event).actions if isinstance(a, OpenLongformSpace)]
        if spaces:
            return spaces[0], authors
    raise AssertionError("the bundled pile-on decides no long-form space")


def _venue_outcome(opened: bool, writers: list[str], after_minutes: float = 5) -> dict[str, float]:
    engine = _engine()
    space, _ = _space_decided(engine)
    venue = ConversationKey(space.conversation.community, "forum", "post-1")
    events: list[Event] = []
    if opened:
        events.append(LongformOpened(space.at + MIN, space.conversation, space.message_id, venue))
    for n, author in enumerate(writers):
        at = space.at + (after_minutes + n) * MIN
        events.append(MessagePosted(f"v{n}", at, venue.community, venue.channel, author,
                                    "My claim: the guideline is right here.", venue.thread))  # fmt: skip
    found = [r for e in events for r in engine.feed(e).outcomes]
    found += engine.tick(space.at + 24 * 60 * MIN).outcomes
    [record] = [r for r in found if r.kind == "open_longform_space"]
    return dict(record.measures)


def test_participants_who_write_in_the_long_form_space_are_counted_once_each() -> None:
    engine = _engine()
    _, authors = _space_decided(engine)
    one, two = list(dict.fromkeys(authors))[:2]
    measures = _venue_outcome(True, [one, two, one, "outsider"])
    assert measures["moved"] == 2.0  # the outsider is not one of the conversation's
    assert measures["any_moved"] == 1.0


def test_nobody_moving_is_measured_as_nobody_once_the_venue_is_known() -> None:
    measures = _venue_outcome(True, ["outsider"])
    assert (measures["moved"], measures["any_moved"]) == (0.0, 0.0)


def test_writing_after_the_window_does_not_count_as_moving() -> None:
    engine = _engine()
    _, authors = _space_decided(engine)
    measures = _venue_outcome(True, [authors[0]], after_minutes=61)
    assert measures["moved"] == 0.0


def test_without_the_venue_the_outcome_says_nothing_about_moving() -> None:
    engine = _engine()
    _, authors = _space_decided(engine)
    measures = _venue_outcome(False, [authors[0]])
    assert "moved" not in measures
    assert "any_moved" not in measures
    assert "heat_before" in measures  # the rest is still measured


def test_a_venue_being_watched_survives_a_snapshot() -> None:
    engine = _engine()
    space, authors = _space_decided(engine)
    venue = ConversationKey(space.conversation.community, "forum", "post-2")
    engine.feed(LongformOpened(space.at + MIN, space.conversation, space.message_id, venue))
    restored = Engine.restore(Policy(), EmbeddedScorer(), json.loads(json.dumps(engine.snapshot())))
    restored.feed(MessagePosted("w1", space.at + 3 * MIN, venue.community, venue.channel,
                                authors[0], "Here is my evidence.", venue.thread))  # fmt: skip
    [record] = [r for r in restored.tick(space.at + 24 * 60 * MIN).outcomes
                if r.kind == "open_longform_space"]  # fmt: skip
    assert dict(record.measures)["moved"] == 1.0


def test_a_snapshot_from_before_venues_restores_and_leaves_moving_unmeasured() -> None:
    engine = _engine()
    space, _ = _space_decided(engine)
    stored = json.loads(json.dumps(engine.snapshot()))
    fields = stored["state"]["_outcomes"]["fields"]
    del fields["_venues"], fields["_by_venue"]  # what a snapshot from before venues holds
    restored = Engine.restore(Policy(), EmbeddedScorer(), stored)
    venue = ConversationKey(space.conversation.community, "forum", "post-3")
    restored.feed(LongformOpened(space.at + MIN, space.conversation, space.message_id, venue))
    [record] = [r for r in restored.tick(space.at + 24 * 60 * MIN).outcomes
                if r.kind == "open_longform_space"]  # fmt: skip
    assert "moved" not in dict(record.measures)  # its space was watched before venues existed


def _target_outcome(writer: str | None) -> dict[str, float]:
    """The bundled pile-on; its long-form space opens after it; ``writer`` writes there."""
    engine = _engine()
    events = _bundled("01_pile_on_clinician.jsonl")
    actions = [a for e in events for a in engine.feed(e).actions]
    [space] = [a for a in actions if isinstance(a, OpenLongformSpace)][:1]
    [target] = [a for a in actions if isinstance(a, PromptMember)
                and a.kind is PromptKind.PILE_ON_TARGET][:1]  # fmt: skip
    after = max(e.at for e in events) + MIN
    venue = ConversationKey(space.conversation.community, "forum", "post-9")
    engine.feed(LongformOpened(after, space.conversation, space.message_id, venue))
    if writer is not None:
        author = target.member if writer == "target" else writer
        engine.feed(MessagePosted("t1", after + MIN, venue.community, venue.channel, author,
                                  "I'll set out my evidence here.", venue.thread))  # fmt: skip
    found = engine.tick(after + 24 * 60 * MIN).outcomes
    [record] = [r for r in found if r.action == "prompt_member:pile_on_target"]
    return dict(record.measures)


def test_a_target_who_moves_to_the_long_form_space_is_measured_as_moved() -> None:
    assert _target_outcome("target")["moved_to_longform"] == 1.0
    assert _target_outcome("someone_else")["moved_to_longform"] == 0.0
    assert _target_outcome(None)["moved_to_longform"] == 0.0


def test_a_target_whose_thread_had_no_known_space_is_not_measured_for_moving() -> None:
    engine = _engine()
    found = [r for e in _bundled("01_pile_on_clinician.jsonl") for r in engine.feed(e).outcomes]
    found += engine.tick(T0 + 10 * 365 * 24 * 60 * MIN).outcomes
    [record] = [r for r in found if r.action == "prompt_member:pile_on_target"]
    assert "moved_to_longform" not in dict(record.measures)
    assert "stayed" in dict(record.measures)
