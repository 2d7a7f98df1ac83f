"""A restarted engine, given its snapshot, decides exactly as if it had never stopped."""

from __future__ import annotations

import json
import random

import pytest

from bot.core.engine import Engine
from bot.core.settings import Policy
from bot.core.snapshot import FORMAT, SnapshotError, from_plain, to_plain
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, mixed_stream


def _engine() -> Engine:
    return Engine(Policy(), EmbeddedScorer())


@pytest.mark.parametrize("cut", [1, 150, 600, 1199])
def test_restored_engine_continues_with_the_same_decisions(cut: int) -> None:
    events = mixed_stream(1200, seed=11)
    whole = _engine()
    expected = [whole.feed(event) for event in events]
    first = _engine()
    before = [first.feed(event) for event in events[:cut]]
    stored = json.loads(json.dumps(first.snapshot()))  # through JSON, as storage keeps it
    second = Engine.restore(Policy(), EmbeddedScorer(), stored)
    after = [second.feed(event) for event in events[cut:]]
    assert before + after == expected
    assert second.size == whole.size


def test_pending_slow_mode_lift_survives_a_restart() -> None:
    engine = _engine()
    for event in mixed_stream(600, seed=5):
        engine.feed(event)
    restored = Engine.restore(Policy(), EmbeddedScorer(), json.loads(json.dumps(engine.snapshot())))
    later = T0 + 24 * 60 * MIN
    lifts = restored.tick(later).actions
    assert lifts, "the stream sets slow mode, so a lift must be due"
    assert lifts == engine.tick(later).actions


def test_snapshot_holds_no_message_text() -> None:
    engine = _engine()
    events = mixed_stream(300, seed=2)
    for event in events:
        engine.feed(event)
    dumped = json.dumps(engine.snapshot())
    texts = {event.text for event in events if hasattr(event, "text")}
    assert not [text for text in texts if text in dumped]


def test_damaged_or_foreign_snapshots_are_refused() -> None:
    with pytest.raises(SnapshotError, match="format"):
        Engine.restore(Policy(), None, {"format": 999, "state": {}})
    with pytest.raises(SnapshotError, match="state"):
        Engine.restore(Policy(), None, {"format": FORMAT, "state": {"_messages": []}})
    with pytest.raises(SnapshotError, match="not part of"):
        from_plain({"$object": "Popen", "fields": {}})
    with pytest.raises(SnapshotError, match="not part of"):
        to_plain(random.Random())
