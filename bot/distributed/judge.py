"""The judge role: engines fed from the partitions this judge owns, decisions to the outbox.

How it works: a judge joins the stream's judges (``ownership``) and, about once a second, takes
a fair share of the partitions (or those the config names): ceil(partitions / judges alive),
releasing the ones over its share so that a newcomer gets some. For each partition it owns, a
:class:`PartitionWorker` claims the partition's memory in PostgreSQL (a new epoch), recreates the
partition's durable consumer to start just after the last event that memory covers, and then,
batch by batch: scores the texts together, feeds the events in stream order, writes the decisions
to the outbox, saves the memory with the last stream sequence it covers (fenced by the epoch),
and only then acks. A judge killed at any point leaves either the old memory (its successor feeds
the same events again: the same decisions, which the outbox's keys drop) or the new one (the
events it covers are skipped by their sequence): nothing is lost and nothing doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from bot.config import DistributedConfig
from bot.core.engine import Engine
from bot.core.events import Event, MessageDeleted, MessageEdited, MessagePosted
from bot.core.scoring import Scores
from bot.core.snapshot import SnapshotError
from bot.distributed import partitioning
from bot.distributed.ownership import Ownership
from bot.runtime.gateway import CommunityRef
from bot.runtime.service import Runtime, _community_of, _without_text
from bot.storage.encoded import EncodedJSON
from bot.storage.errors import StorageError

log = structlog.get_logger()
REBALANCE_S = 1.0  # how often a judge looks for partitions to take or give up
MODES_EVERY = 10  # rebalances between re-reading the modes moderators set (shadow, live)
_FETCH_WAIT_S = 1.0  # how long one fetch waits for events before the worker looks around
_ACK_WAIT_S = 300.0  # a batch must be judged within this, or JetStream offers it again


@dataclass
class PartitionWorker:
    """Judges one partition until stopped, or until another judge has taken it over."""

    runtime: Runtime
    js: JetStreamContext
    settings: DistributedConfig
    partition: int
    still_owned: Callable[[], Awaitable[bool]]  # does this judge's lock still hold?
    engines: dict[str, Engine] = field(default_factory=dict)
    applied: int = 0  # the last stream sequence the engines have been fed
    judged: int = 0  # events judged by this worker (for the benchmark and logs)
    _epoch: int = 0
    _stopping: bool = False
    _next_tick: datetime | None = None

    def stop(self) -> None:
        """Stop after the batch in progress (its decisions, memory and acks complete)."""
        self._stopping = True

    async def run(self) -> None:
        """Take the partition over and judge it until stopped."""
        store, stream = self.runtime.store, self.settings.stream
        claimed = await asyncio.to_thread(
            store.partitions.claim, stream, self.partition, now=self.runtime.clock()
        )
        self._epoch, self.applied = claimed.epoch, claimed.stream_seq
        self.engines = self._restored(claimed.blob)
        subscription = await self._subscribe()
        log.info("partition_taken", partition=self.partition, epoch=self._epoch,
                 resumes_after=self.applied)  # fmt: skip
        try:
            while not self._stopping:
                try:
                    batch = await subscription.fetch(self.settings.batch, timeout=_FETCH_WAIT_S)
                except (NatsTimeout, TimeoutError):
                    batch = []
                if not await self._judge_batch(batch):
                    return
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    def _restored(self, blob: object) -> dict[str, Engine]:
        saved = blob if isinstance(blob, dict) else {}
        engines = {}
        for key, policy in self.runtime.policies.items():
            memory = saved.get(key)
            if not memory:  # a partition never judged before
                engines[key] = Engine(policy, self.runtime.scorer)
                continue
            try:
                engines[key] = Engine.restore(policy, self.runtime.scorer, memory)
            except SnapshotError as error:
                log.warning("partition_memory_not_restored", partition=self.partition,
                            engine=key, problem=str(error))  # fmt: skip
                engines[key] = Engine(policy, self.runtime.scorer)
        return engines

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        """The partition's durable consumer, made afresh to start after ``applied``: what the
        last owner had fetched but not covered by the memory is offered again, in order."""
        stream = self.settings.stream
        name = f"{stream}-p{self.partition}"
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(stream, name)
        start = (
            {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": self.applied + 1}
            if self.applied
            else {"deliver_policy": DeliverPolicy.ALL}
        )
        config = ConsumerConfig(
            durable_name=name,
            filter_subject=partitioning.subject(stream, self.partition),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=_ACK_WAIT_S,
            max_ack_pending=self.settings.batch * 4,
            **start,
        )
        await self.js.add_consumer(stream, config)
        return await self.js.pull_subscribe_bind(durable=name, stream=stream)

    async def _judge_batch(self, batch: Sequence[Msg]) -> bool:
        """Judge ``batch``, save the memory, ack; False if the partition was lost meanwhile."""
        fresh: list[tuple[int, Event]] = []
        for message in batch:
            sequence = message.metadata.sequence.stream
            if sequence <= self.applied:
                continue  # covered by the memory already (an ack that was lost)
            try:
                fresh.append((sequence, partitioning.decode(message.data)))
            except (StorageError, ValueError) as error:
                log.warning("event_unreadable", partition=self.partition, seq=sequence,
                            problem=str(error))  # fmt: skip
        ticked = await self._tick_if_due()
        if not fresh and not ticked:
            await _ack(batch)
            return True
        if fresh:
            await self._feed([event for _, event in fresh])
        last = max([self.applied, *(sequence for sequence, _ in fresh)])
        if not await self._save(last):
            return False
        self.applied = last
        await _ack(batch)
        return True

    async def _feed(self, events: list[Event]) -> None:
        scores = await self._scores(events)
        await asyncio.to_thread(self._record, events, scores)
        for event, scored in zip(events, scores, strict=True):
            for key, engine in self._engines_for(event):
                try:
                    decided = engine.feed(event, scored)
                except Exception:  # one bad event must not stop the others
                    log.exception("event_failed", kind=type(event).__name__)
                    continue
                if decided:  # storage trouble propagates: nothing is acked, the batch comes again
                    await self.runtime.submit(decided, key)
            self.judged += 1

    async def _scores(self, events: list[Event]) -> list[Scores | None]:
        texts = [e.text for e in events if isinstance(e, MessagePosted | MessageEdited)]
        if not texts:
            return [None] * len(events)
        try:
            scored = iter(await asyncio.to_thread(self.runtime.scorer.score, texts))
        except Exception:  # a failing scorer must not lose the events: the engine scores
            log.exception("scoring_failed", count=len(texts))
            return [None] * len(events)
        return [next(scored) if isinstance(e, MessagePosted | MessageEdited) else None
                for e in events]  # fmt: skip

    def _record(self, events: list[Event], scores: list[Scores | None]) -> None:
        """Log the messages (text only within retention); forget the deleted ones."""
        keep_text = self.runtime.config.storage.retention_days > 0
        messages = [
            (CommunityRef.of(e.community).platform, e if keep_text else _without_text(e), s or {})
            for e, s in zip(events, scores, strict=True)
            if isinstance(e, MessagePosted)
        ]
        store = self.runtime.store
        if messages:
            store.messages.record_many(messages)
        for event in events:
            if isinstance(event, MessageDeleted):
                for platform in self._platforms():
                    store.messages.forget_message(platform, event.id)

    def _platforms(self) -> list[str]:
        # A deleted message's id is unique only within its platform, and a deletion names none.
        config = self.runtime.config
        return [*config.platforms, *(["replay"] if config.replay.enabled else [])]

    def _engines_for(self, event: Event) -> list[tuple[str, Engine]]:
        community = _community_of(event)
        if community is None:  # edits and deletions: the engine that saw the message knows it
            return list(self.engines.items())
        key = self.runtime.community(community).engine_key
        return [(key, self.engines[key])]

    async def _tick_if_due(self) -> bool:
        """Advance the engines' clock every ``tick_seconds`` (expiries fall due)."""
        now = self.runtime.clock()
        every = timedelta(seconds=self.runtime.config.scheduler.tick_seconds)
        if self._next_tick is None:
            self._next_tick = now + every
        if now < self._next_tick:
            return False
        self._next_tick = now + every
        for key, engine in self.engines.items():
            decided = engine.tick(now)
            if decided:
                await self.runtime.submit(decided, key)
        return True

    async def _save(self, last: int) -> bool:
        if not await self.still_owned():
            log.warning("partition_lost", partition=self.partition, epoch=self._epoch,
                        hint="another judge owns it now; this worker stops")  # fmt: skip
            return False
        # Each engine's memory as JSON text, made a slice at a time (Engine.snapshot_json).
        parts = (f"{json.dumps(key)}: " + "".join(engine.snapshot_json())
                 for key, engine in self.engines.items())  # fmt: skip
        memory = EncodedJSON("{" + ", ".join(parts) + "}")
        saved = await asyncio.to_thread(
            self.runtime.store.partitions.save, self.settings.stream, self.partition,
            self._epoch, last, memory, now=self.runtime.clock(),
        )  # fmt: skip
        if not saved:
            log.warning("partition_taken_over", partition=self.partition, epoch=self._epoch)
        return saved


async def _ack(batch: Sequence[Msg]) -> None:
    for message in batch:
        with contextlib.suppress(Exception):  # a lost ack is harmless: the sequence is skipped
            await message.ack()


@dataclass
class Judge:
    """One judge process's share of the partitions, rebalanced as judges come and go."""

    runtime: Runtime
    js: JetStreamContext
    settings: DistributedConfig
    ownership: Ownership
    workers: dict[int, tuple[PartitionWorker, asyncio.Task[None]]] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        """Own and judge partitions until ``stop`` is set; then hand them back cleanly."""
        slot = await self.ownership.join()
        log.info("judge_joined", stream=self.settings.stream, slot=slot)
        try:
            rounds = 0
            while not stop.is_set():
                if rounds % MODES_EVERY == 0:
                    await self._read_modes()
                rounds += 1
                await self.rebalance()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REBALANCE_S):
                        await stop.wait()
        finally:
            for partition in list(self.workers):
                await self._give_up(partition)
            await self.ownership.close()

    async def _read_modes(self) -> None:
        """The modes moderators chose (saved by the process that took the command)."""
        with contextlib.suppress(Exception):  # the database away: keep the modes known
            saved = await asyncio.to_thread(self.runtime.store.states.load, "modes")
            if saved is not None and isinstance(saved.blob, dict):
                self.runtime.modes.update(saved.blob)

    @property
    def judged(self) -> int:
        """Events judged by this judge's current workers."""
        return sum(worker.judged for worker, _ in self.workers.values())

    async def rebalance(self) -> None:
        """Drop finished workers, give up partitions over the share, take free ones up to it."""
        for partition, (_, task) in list(self.workers.items()):
            if task.done():
                if not task.cancelled() and task.exception() is not None:
                    log.error("partition_worker_failed", partition=partition,
                              problem=repr(task.exception()))  # fmt: skip
                del self.workers[partition]
                await self.ownership.release(partition)
        keep, candidates, share = await self._wanted()
        for partition in [p for p in self.workers if p not in keep]:
            await self._give_up(partition)
        for partition in candidates:
            if len(self.workers) >= share:
                break
            if partition not in self.workers and await self.ownership.acquire(partition):
                self._start(partition)

    async def _wanted(self) -> tuple[list[int], list[int], int]:
        """The partitions to keep, those to try to take (in order), and how many to own."""
        total = self.settings.partitions
        named = list(self.settings.judge_partitions)
        if named:
            return named, named, len(named)
        share = math.ceil(total / max(1, await self.ownership.members()))
        keep = sorted(self.workers)[:share]
        # Judges start their search at different places, so that they rarely race for one.
        start = ((self.ownership.slot or 0) * share) % total
        order = [(start + i) % total for i in range(total)]
        return keep, [p for p in order if p not in keep], share

    def _start(self, partition: int) -> None:
        worker = PartitionWorker(self.runtime, self.js, self.settings, partition,
                                 lambda: self.ownership.still_owns(partition))  # fmt: skip
        task = asyncio.create_task(worker.run(), name=f"longform-judge-p{partition}")
        self.workers[partition] = (worker, task)

    async def _give_up(self, partition: int) -> None:
        worker, task = self.workers.pop(partition)
        worker.stop()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task
        await self.ownership.release(partition)
        log.info("partition_given_up", partition=partition, applied=worker.applied)
