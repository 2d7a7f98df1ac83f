"""Replaying recorded events through the engine, as if live, and rendering what it decided."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from adapters.replay.reader import BadLine, read_events
from bot.core.decisions import (
    UNDO_WORDS,
    AlertModerators,
    Decision,
    Detection,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptMember,
    SetSlowMode,
    UndoActions,
    recipient,
)
from bot.core.engine import Engine
from bot.core.events import Event, MessageEdited, MessagePosted
from bot.core.outcomes import OutcomeRecord
from bot.core.scoring import Scorer, Scores

_ACTION_NAMES: dict[type, str] = {
    PostNotice: "notice",
    PromptMember: "private_prompt",
    SetSlowMode: "slow_mode",
    LiftSlowMode: "slow_mode",
    OpenLongformSpace: "open_longform",
    UndoActions: "undo",
    AlertModerators: "alert_moderators",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One event (None for the final tick) and what the engine made of it."""

    event: Event | None
    detections: tuple[Detection, ...]
    actions: tuple[Decision, ...]
    outcomes: tuple[OutcomeRecord, ...] = ()


def load(paths: Iterable[Path]) -> tuple[list[Event], list[BadLine]]:
    """Every event of every file, in time order (stable for equal times), and the bad lines."""
    events: list[Event] = []
    bad: list[BadLine] = []
    for path in paths:
        for item in read_events(path):
            (bad if isinstance(item, BadLine) else events).append(item)  # type: ignore[arg-type]
    events.sort(key=lambda event: event.at)
    return events, bad


def replay(
    engine: Engine, events: Iterable[Event], scorer: Scorer | None = None, batch_size: int = 64
) -> Iterator[Step]:
    """Feed ``events`` in order, ticking the clock before each, then once after the last.

    With a ``scorer``, texts are scored ``batch_size`` at a time before the engine sees them (what
    a slow model such as Detoxify needs); without one, the engine scores each text itself.
    """
    last = None
    for event, scores in _scored(events, scorer, batch_size):
        ticked = engine.tick(event.at)
        if ticked.actions or ticked.outcomes:
            yield Step(None, (), ticked.actions, ticked.outcomes)
        decided = engine.feed(event, scores)
        yield Step(event, decided.detections, decided.actions, decided.outcomes)
        last = event.at
    if last is not None:
        ticked = engine.tick(last + timedelta(days=1))
        if ticked.actions or ticked.outcomes:
            yield Step(None, (), ticked.actions, ticked.outcomes)


def _scored(
    events: Iterable[Event], scorer: Scorer | None, batch_size: int
) -> Iterator[tuple[Event, Scores | None]]:
    if scorer is None:
        yield from ((event, None) for event in events)
        return
    stream = iter(events)
    while batch := list(itertools.islice(stream, batch_size)):
        texts = [e.text for e in batch if isinstance(e, MessagePosted | MessageEdited)]
        scored = iter(scorer.score(texts))
        for event in batch:
            has_text = isinstance(event, MessagePosted | MessageEdited)
            yield event, next(scored) if has_text else None


def action_text(action: Decision) -> str:
    """What a decision would send, or a description of what it would do."""
    if isinstance(action, SetSlowMode):
        return (
            f"Slow mode: one message per member every {action.seconds} s until "
            f"{action.until.astimezone(UTC):%H:%M} UTC."
        )
    if isinstance(action, LiftSlowMode):
        return "Slow mode lifted."
    if isinstance(action, UndoActions):
        return UNDO_WORDS
    return action.text


def detection_record(detection: Detection) -> dict[str, Any]:
    """The stable JSONL schema for a detection."""
    return {"type": "detection", "signal": str(detection.signal), "message": detection.message_id,
            "target": detection.target, "score": round(detection.score, 4),
            "evidence": list(detection.evidence.message_ids),
            "words": list(detection.words)}  # fmt: skip


def action_record(action: Decision) -> dict[str, Any]:
    """The stable JSONL schema for an action."""
    return {"type": "action", "action": _ACTION_NAMES[type(action)], "message": action.message_id,
            "to": recipient(action), "text": action_text(action)}  # fmt: skip


def outcome_record(outcome: OutcomeRecord) -> dict[str, Any]:
    """The JSONL schema for an intervention's settled outcomes (ids and numbers only)."""
    return {"type": "outcome", "action": outcome.action, "signal": str(outcome.signal),
            "message": outcome.message_id, "to": outcome.recipient,
            "decided_at": outcome.decided_at.isoformat(), "settled_at": outcome.settled_at.isoformat(),
            "measures": dict(outcome.measures)}  # fmt: skip


def write_jsonl(steps: Iterable[Step], out: Any) -> int:
    """Write detections, actions and then the outcomes the step settled as JSON lines to
    ``out``; return how many lines."""
    count = 0
    for step in steps:
        for record in [*map(detection_record, step.detections), *map(action_record, step.actions),
                       *map(outcome_record, step.outcomes)]:  # fmt: skip
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
