"""A sharded engine decides exactly what one engine decides, over real worker processes."""

from __future__ import annotations

import random

import pytest

from adapters.replay.runner import load
from bot.cli import DEMO
from bot.core.engine import Engine
from bot.core.events import Event, MemberJoined, MessageDeleted, MessageEdited
from bot.core.settings import Policy
from bot.scoring.embedded import EmbeddedScorer
from bot.shards import DEMO_BATCH_FOR_TESTS, ShardedEngine, shard_of
from tests.builders import MIN, T0, message
from tests.test_engine import DISAGREE, HOSTILE, WARM


def _mixed_stream(count: int, seed: int = 7) -> list[Event]:
    """Replies, mentions, edits, deletions and joins spread over many threads."""
    rng = random.Random(seed)
    texts = HOSTILE + DISAGREE + WARM
    events: list[Event] = []
    for i in range(count):
        at = T0 + i * MIN / 6
        roll = rng.random()
        if roll < 0.05 and i:
            events.append(MessageEdited(id=f"m{rng.randrange(i)}", at=at, text=rng.choice(HOSTILE)))
        elif roll < 0.08 and i:
            events.append(MessageDeleted(id=f"m{rng.randrange(i)}", at=at))
        elif roll < 0.10:
            events.append(MemberJoined(at=at, community="c", user=f"u{rng.randrange(30)}"))
        else:
            events.append(message(f"u{rng.randrange(30)}", rng.choice(texts), at,
                                  reply_to_author=f"u{rng.randrange(5)}",
                                  thread=f"t{rng.randrange(12)}", id=f"m{i}"))  # fmt: skip
    return events


def _alone(events: list[Event]) -> list:
    engine = Engine(Policy(), EmbeddedScorer())
    return [engine.feed(event) for event in events]


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_sharded_engine_decides_what_one_engine_decides(shards: int) -> None:
    events = _mixed_stream(1500)
    end = events[-1].at + 24 * 60 * MIN
    with ShardedEngine(Policy(), EmbeddedScorer, shards=shards, batch=DEMO_BATCH_FOR_TESTS) as pool:
        sharded = list(pool.feed_many(events))
        sharded_end = pool.tick(end)
    engine = Engine(Policy(), EmbeddedScorer())
    alone = [engine.feed(event) for event in events]
    alone_end = engine.tick(end)
    assert sum(len(d.actions) for d in alone) > 20  # the stream must exercise the responder
    assert [(d.detections, d.actions) for d in sharded] == [
        (d.detections, d.actions) for d in alone
    ]
    # Outcomes settle when a shard's own clock passes their window (its events, or a tick), so
    # they may come at other events than one engine's; all of them, the same, by the last tick.
    settled = [o for d in [*sharded, sharded_end] for o in d.outcomes]
    assert len(settled) > 20
    assert sorted(settled, key=repr) == sorted(
        [o for d in [*alone, alone_end] for o in d.outcomes], key=repr
    )


def test_sharded_engine_on_the_bundled_conversations() -> None:
    events, bad = load(sorted(DEMO.glob("0*.jsonl")))
    assert not bad
    with ShardedEngine(Policy(), EmbeddedScorer, shards=2) as pool:
        sharded = list(pool.feed_many(events))
        size = pool.size
    engine = Engine(Policy(), EmbeddedScorer())
    assert sharded == [engine.feed(event) for event in events]
    # joins go to every shard, so each shard remembers them all
    assert {**size, "joins": size["joins"] // 2} == engine.size


def test_tick_reaches_every_shard_and_policy_replacement_holds() -> None:
    events = _mixed_stream(400, seed=3)
    with ShardedEngine(Policy(), EmbeddedScorer, shards=2) as pool:
        list(pool.feed_many(events))
        pool.replace_policy(Policy(name="replaced"))
        lifts = pool.tick(events[-1].at + 48 * 60 * MIN)
        assert pool.size["messages"] == 0  # everything expired in both shards
    engine = Engine(Policy(), EmbeddedScorer())
    for event in events:
        engine.feed(event)
    assert sorted(map(repr, lifts.actions)) == sorted(
        map(repr, engine.tick(events[-1].at + 48 * 60 * MIN).actions)
    )


def test_shard_of_is_stable_and_spreads() -> None:
    keys = [f"c\x1fchannel\x1fthread{i}" for i in range(1000)]
    first = [shard_of(key, 2) for key in keys]
    assert first == [shard_of(key, 2) for key in keys]
    assert 400 < sum(first) < 600


def test_shards_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ShardedEngine(Policy(), EmbeddedScorer, shards=0)
