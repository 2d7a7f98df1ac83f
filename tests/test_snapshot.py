"""A restarted engine, given its snapshot, decides exactly as if it had never stopped."""

from __future__ import annotations

import json
import random
from collections import OrderedDict, deque

import pytest

from bot.core.engine import _STATE, Engine
from bot.core.events import ConversationKey
from bot.core.responses import Responder
from bot.core.seen import decode as decode_seen
from bot.core.seen import json_chunks as seen_json
from bot.core.settings import Policy
from bot.core.snapshot import FORMAT, SnapshotError, from_plain, json_chunks, to_plain
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


@pytest.mark.parametrize("old_format", [3, 2])
def test_a_snapshot_of_an_older_format_still_restores_to_the_same_decisions(
    old_format: int,
) -> None:
    # Formats 2 and 3 stored the remembered messages as tagged objects, not as one table.
    events = mixed_stream(900, seed=17)
    whole = _engine()
    expected = [whole.feed(event) for event in events]
    first = _engine()
    for event in events[:450]:
        first.feed(event)
    state = dict(first.snapshot()["state"])  # type: ignore[arg-type]
    state["_messages"] = to_plain(first._messages)
    if old_format == 2:
        del state["_outcomes"]
    stored = json.loads(json.dumps({"format": old_format, "state": state}))
    second = Engine.restore(Policy(), EmbeddedScorer(), stored)
    assert second._messages == first._messages
    if old_format == 3:
        assert [second.feed(event) for event in events[450:]] == expected[450:]


def test_remembered_messages_are_stored_compactly() -> None:
    engine = _engine()
    for event in mixed_stream(600, seed=3):
        engine.feed(event)
    assert engine.size["messages"] > 100, "the stream must leave messages to remember"
    compact = json.dumps(engine.snapshot()["state"]["_messages"])  # type: ignore[index]
    tagged = json.dumps(to_plain(engine._messages))
    assert len(compact) * 2 < len(tagged), (len(compact), len(tagged))


def test_a_damaged_message_table_is_refused() -> None:
    engine = _engine()
    for event in mixed_stream(60, seed=4):
        engine.feed(event)
    snapshot = json.loads(json.dumps(engine.snapshot()))
    table = snapshot["state"]["_messages"]
    table["rows"][0][8] = table["rows"][0][8][:-1]  # one score fewer than its names
    with pytest.raises(SnapshotError, match=r"damaged snapshot.*scores"):
        Engine.restore(Policy(), EmbeddedScorer(), snapshot)
    table["rows"][0][1] = len(table["conversations"])  # a conversation that is not there
    with pytest.raises(SnapshotError, match="damaged snapshot"):
        Engine.restore(Policy(), EmbeddedScorer(), snapshot)


def test_the_engine_written_a_slice_at_a_time_reads_back_as_its_plain_state() -> None:
    engine = _engine()
    for event in mixed_stream(900, seed=23):
        engine.feed(event)
    assert engine.size["messages"] > 30
    assert engine.size["conversations"] > 3
    for name in _STATE:
        if name == "_messages":
            pieces = list(seen_json(engine._messages, 7))
            assert decode_seen(json.loads("".join(pieces))) == engine._messages
        else:
            part = getattr(engine, name)
            pieces = list(json_chunks(part, chunk=3))
            assert json.loads("".join(pieces)) == to_plain(part), name
        if name in ("_messages", "_conversations", "_responder", "_outcomes"):
            assert len(pieces) > 1, f"{name} must be written in pieces at this chunk size"


def test_large_containers_are_written_in_slices_that_read_back_the_same() -> None:
    keys = [ConversationKey("c", "ch", str(n)) for n in range(10)]
    value = {
        "ordered": OrderedDict((f"k{n}", keys[n]) for n in range(10)),
        "plain": {f"k{n}": n * 0.5 for n in range(10)},
        "list": [keys[n] for n in range(10)],
        "deque": deque(range(10), maxlen=12),
        "small": {"a": (1, T0)},
    }
    for name, part in value.items():
        pieces = list(json_chunks(part, chunk=4))
        assert json.loads("".join(pieces)) == to_plain(part), name
        assert from_plain(json.loads("".join(pieces))) == part, name
        assert len(pieces) == (1 if name == "small" else 5), name  # 10 items: 3 slices + brackets
    # An engine state object is written field by field, each large field in slices.
    responder = Responder()
    responder._last = {("member", n): T0 + n * MIN for n in range(10)}
    pieces = list(json_chunks(responder, chunk=4))
    assert json.loads("".join(pieces)) == to_plain(responder)
    assert sum(piece.count("member") for piece in pieces) == 10
    assert max(piece.count("member") for piece in pieces) == 4
