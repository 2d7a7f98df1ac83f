"""Outcomes of interventions, measured by the engine from the events that follow them."""

from __future__ import annotations

import json

from bot.core.decisions import PromptKind, PromptMember, SetSlowMode
from bot.core.engine import Engine
from bot.core.events import MessageDeleted, MessageEdited
from bot.core.outcomes import OutcomeRecord
from bot.core.settings import Policy
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message
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
