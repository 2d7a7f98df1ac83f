"""Several engines in worker processes, one per CPU core, each owning a share of the conversations.

How it works: the engine's state is per conversation (windows, heat, cooldowns per thread) apart
from member joins, so conversations can be split between processes without changing a decision. A
message goes to the shard its conversation hashes to (a stable hash, so a restart routes the same
way); an edit or a deletion goes where its message went (the router remembers as many message ids
as the engine remembers messages, and otherwise tells every shard); joins and ticks go to every
shard. Events travel in batches, and the decisions come back in the order the events went in, so a
sharded run gives the same decisions as one engine.
"""

from __future__ import annotations

import multiprocessing
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from multiprocessing.queues import Queue
from types import TracebackType
from typing import Any

from bot.core.decisions import Decisions
from bot.core.engine import Engine
from bot.core.events import Event, MessageDeleted, MessageEdited, MessagePosted
from bot.core.scoring import Scorer
from bot.core.settings import Policy

ScorerFactory = Callable[[], Scorer | None]

# Events per message between processes: large enough that the cost of queueing is amortised
# (512 gave 19,000 msg/s on 2 cores, 2048 gave 22,000); a live runtime passes a smaller batch.
BATCH = 2048
DEMO_BATCH_FOR_TESTS = 64  # small batches, so that tests cross many batch boundaries


def shard_of(key: str, shards: int) -> int:
    """The shard a conversation belongs to: stable across processes and restarts."""
    return zlib.crc32(key.encode("utf-8")) % shards


def _conversation_key(message: MessagePosted) -> str:
    return f"{message.community}\x1f{message.channel}\x1f{message.thread}"


def _serve(
    inbox: Queue[Any], outbox: Queue[Any], policy: Policy, make_scorer: ScorerFactory
) -> None:
    """A worker: feeds each batch to its own engine and sends back the decisions that are not
    empty, as (position in the batch, decisions)."""
    engine = Engine(policy, make_scorer())
    while True:
        request = inbox.get()
        if request is None:
            return
        kind, payload = request
        if kind == "feed":
            decided = ((index, engine.feed(event)) for index, event in enumerate(payload))
            outbox.put([(index, found) for index, found in decided if found])
        elif kind == "tick":
            outbox.put(engine.tick(payload))
        elif kind == "policy":
            engine.replace_policy(payload)
            outbox.put(None)
        elif kind == "size":
            outbox.put(engine.size)


class ShardedEngine:
    """An Engine spread over ``shards`` worker processes; use as a context manager.

    ``make_scorer`` runs inside each worker (scorers hold models that should not be copied), so it
    must be picklable: a class or a module-level function.
    """

    def __init__(
        self, policy: Policy, make_scorer: ScorerFactory, shards: int = 2, batch: int = BATCH
    ) -> None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, not {shards}")
        self._batch = batch
        context = multiprocessing.get_context("spawn")  # no inherited threads or locks
        # Queues, not pipes: their feeder threads never block, so sending the next batch while
        # a worker sends back the last one cannot deadlock.
        self._inboxes: list[Queue[Any]] = [context.Queue() for _ in range(shards)]
        self._outboxes: list[Queue[Any]] = [context.Queue() for _ in range(shards)]
        self._workers = [
            context.Process(target=_serve, args=(inbox, outbox, policy, make_scorer), daemon=True)
            for inbox, outbox in zip(self._inboxes, self._outboxes, strict=True)
        ]
        for worker in self._workers:
            worker.start()
        self._home: OrderedDict[str, int] = OrderedDict()
        self._positions: deque[list[list[int]]] = deque()
        self._remembered = policy.memory.max_messages

    @property
    def shards(self) -> int:
        """How many worker processes share the conversations."""
        return len(self._workers)

    def feed_many(self, events: Iterable[Event]) -> Iterator[Decisions]:
        """Decisions for each event, in the order of ``events``. The next batch is on its way to
        the workers while the last one's decisions come back."""
        in_flight: deque[int] = deque()
        batch: list[Event] = []
        for event in events:
            batch.append(event)
            if len(batch) >= self._batch:
                in_flight.append(self._send(batch))
                batch = []
                if len(in_flight) > 1:
                    yield from self._receive(in_flight.popleft())
        if batch:
            in_flight.append(self._send(batch))
        while in_flight:
            yield from self._receive(in_flight.popleft())

    def tick(self, now: datetime) -> Decisions:
        """Every shard's tick, combined."""
        return _combine(self._ask("tick", now))

    def replace_policy(self, policy: Policy) -> None:
        """Put a new policy in force in every shard."""
        self._ask("policy", policy)
        self._remembered = policy.memory.max_messages

    @property
    def size(self) -> dict[str, int]:
        """What all shards remember together."""
        total: dict[str, int] = {}
        for part in self._ask("size", None):
            for name, count in part.items():
                total[name] = total.get(name, 0) + count
        return total

    def close(self) -> None:
        """Stop the workers and wait for them."""
        for inbox in self._inboxes:
            inbox.put(None)
        for worker in self._workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for queue in (*self._inboxes, *self._outboxes):
            queue.close()
            queue.join_thread()

    def __enter__(self) -> ShardedEngine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _ask(self, kind: str, payload: object) -> list[Any]:
        for inbox in self._inboxes:
            inbox.put((kind, payload))
        return [outbox.get() for outbox in self._outboxes]

    def _send(self, batch: list[Event]) -> int:
        """Route and send one batch; returns its length, which ``_receive`` needs."""
        routed: list[list[Event]] = [[] for _ in self._workers]
        routed_positions: list[list[int]] = [[] for _ in self._workers]
        self._positions.append(routed_positions)
        for index, event in enumerate(batch):
            for shard in self._route(event):
                routed[shard].append(event)
                routed_positions[shard].append(index)
        for inbox, events in zip(self._inboxes, routed, strict=True):
            inbox.put(("feed", events))
        return len(batch)

    def _receive(self, size: int) -> list[Decisions]:
        positions = self._positions.popleft()
        found: list[list[Decisions]] = [[] for _ in range(size)]
        for outbox, places in zip(self._outboxes, positions, strict=True):
            for index, decisions in outbox.get():
                found[places[index]].append(decisions)
        return [_combine(parts) for parts in found]

    def _route(self, event: Event) -> range | tuple[int]:
        if isinstance(event, MessagePosted):
            shard = shard_of(_conversation_key(event), self.shards)
            self._home[event.id] = shard
            self._home.move_to_end(event.id)
            if len(self._home) > self._remembered:
                self._home.popitem(last=False)
            return (shard,)
        if isinstance(event, MessageEdited | MessageDeleted) and event.id in self._home:
            return (self._home[event.id],)
        return range(self.shards)  # joins, and edits or deletions of messages we do not place


def _combine(parts: list[Decisions]) -> Decisions:
    if not parts:
        return _NOTHING
    if len(parts) == 1:
        return parts[0]
    return Decisions(
        tuple(d for part in parts for d in part.detections),
        tuple(a for part in parts for a in part.actions),
        tuple(o for part in parts for o in part.outcomes),  # issue 17: settled outcomes too
    )


_NOTHING = Decisions()
