"""The running service: platform events in, the engine's decisions out through the outbox.

How it works: an adapter hands each event to ``on_event``, which queues it (at most MAX_BACKLOG
wait; beyond that the adapter waits: back-pressure, never a drop) and returns once the event's
decisions are committed. Two stages run behind the queue, so many events are in flight at once:

1. scoring: takes every event waiting (up to a batch) and scores their texts together
   (``bot.runtime.scoring_queue``: off the loop; the sentence tier in its own processes), while
   the batch before is judged;
2. judging: takes the scored batches in arrival order and, under the engines' lock, looks up
   which of the batch's events were delivered before (those are dropped), feeds the engines the
   others event by event in arrival order (so each thread's, and each community's, order is
   kept), then in one transaction (``bot.storage.batch``) journals those events, logs their
   messages (text only within retention) and routes the decisions: in shadow mode, what would reach members is recorded in the audit as
   ``suppressed_shadow`` and only moderator alerts go out; a private prompt to a member who opted
   out is recorded as ``opted_out``; everything else is written to the outbox. Only then is the
   transaction committed, and only then is the executor woken: a decision is committed before
   it is executed, and a batch's writes are one commit, not one per event.

The executor (``bot.runtime.executor``) carries out what the outbox holds, and the scheduler
(``bot.runtime.jobs``) ticks the engines, saves their memory, lifts slow modes, sends the digest
and purges old text.

A restart is invisible to members: every event, and every tick of the engines' clock, is written
to the journal (``bot.storage.journal``) in the commit that makes anything the engines learnt
from it durable (a batch's journal rows are the first statements of its transaction, written
with its decisions; a tick's its own commit, before it is applied), and each saved snapshot
records the last journal entry it covers. A snapshot is taken under the same lock, so it never
covers a batch whose transaction is still open; a crash before the commit leaves neither the
batch's rows nor (the process being gone) the engines' memory of it, and the inbox is read again
from before it. (A commit that fails while the process lives, storage trouble, is logged as
``events_failed``: the engines keep what they learnt from the batch, its decisions are lost, as a
failed write lost them before.) ``open`` restores the snapshots and replays the journal after them through the
engines before anything else runs; a decision remade from the same events has the same
idempotency key, so the outbox drops the ones already decided. One lock orders the engines' work
(a batch of events, a tick, a snapshot), so the journal's order is the engines'.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import structlog

from bot.config import Config
from bot.core.decisions import Decision, Decisions, PromptMember
from bot.core.engine import Engine
from bot.core.events import (
    Event,
    LongformOpened,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
)
from bot.core.scoring import Scorer, Scores
from bot.core.settings import Policy
from bot.core.snapshot import SnapshotError
from bot.runtime import snapshots
from bot.runtime.gateway import CommunityRef
from bot.runtime.memory import return_free_memory
from bot.runtime.metrics import Metrics
from bot.runtime.pipeline import holdback_check, opt_out_check, shadow_check, withheld
from bot.runtime.platform import PlatformAdapter
from bot.runtime.scoring_queue import ScoringQueue
from bot.storage.audit import AuditEntry, Provenance
from bot.storage.batch import Batch
from bot.storage.codec import decision_key, kind_name
from bot.storage.encoded import EncodedJSON
from bot.storage.journal import Entry, Tick, journal_rows
from bot.storage.schema import Outcome
from bot.storage.store import Store

log = structlog.get_logger()
Clock = Callable[[], datetime]

# Longer texts are cut before judging (Discord allows 4,000 characters, Telegram 4,096): a huge
# message must not stall the loop or the database.
MAX_TEXT = 10_000
# Events waiting to be judged; beyond this, adapters wait (back-pressure) instead of memory growing.
MAX_BACKLOG = 5_000
# The most events scored, and then judged and committed, as one batch.
BATCH_LIMIT = 500
# Scored batches waiting for the judge: enough to keep both stages busy, few enough that memory
# stays bounded (with MAX_BACKLOG, at most MAX_BACKLOG + (this + 3) * BATCH_LIMIT events held:
# one batch being scored, one being judged, and one the judge took but could not merge).
_SCORED_AHEAD = 2
# Communities whose engine is remembered (``_engines_for``); past this many, forgotten and re-read.
_KNOWN_COMMUNITIES = 10_000
# The layout of a saved engine snapshot: 1 was the bare engine state; 2 adds the journal position.
SNAPSHOT_VERSION = 2


def utc_now() -> datetime:
    """The wall clock, in UTC: the only clock the service reads."""
    return datetime.now(UTC)


def policy_version(policy: Policy) -> str:
    """A short fingerprint of a policy's effective values, recorded with every decision."""
    return hashlib.sha256(repr(policy).encode()).hexdigest()[:12]


# An event waiting to be judged, and the future its adapter awaits.
_Queued = tuple[Event, "asyncio.Future[None]"]
# A scored batch: the events in arrival order and, for each, its scores (None: not scored here).
_Scored = tuple[list[_Queued], list[Scores | None]]


@dataclass
class _Routed:
    """What a batch's decisions came to, for the logs and metrics once committed."""

    detections: list[Decisions] = field(default_factory=list)
    actions: int = 0
    sent: int = 0


@dataclass
class _Community:
    """What the runtime knows about one served community."""

    engine_key: str
    mode: str


@dataclass
class Runtime:
    """One process serving every configured platform around the engines, storage and scheduler."""

    config: Config
    policies: Mapping[str, Policy]  # by policy name as the config gives it ("" = top level)
    scorer: Scorer
    store: Store
    adapters: Mapping[str, PlatformAdapter]
    clock: Clock = utc_now
    metrics: Metrics = field(default_factory=Metrics)
    engines: dict[str, Engine] = field(default_factory=dict)
    _queue: asyncio.Queue[_Queued] = field(default_factory=lambda: asyncio.Queue(MAX_BACKLOG))
    _waiting: deque[tuple[_Queued, asyncio.Future[None]]] = field(default_factory=deque)
    _scored: asyncio.Queue[_Scored] = field(default_factory=lambda: asyncio.Queue(_SCORED_AHEAD))
    _backlog_warned: bool = False
    modes: dict[str, str] = field(default_factory=dict)  # per community, set by moderators
    config_path: Path | None = None  # the config file policies are reloaded from (None: none)
    _scoring: ScoringQueue | None = None
    _stages: list[asyncio.Task[None]] = field(default_factory=list)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _engine_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _save_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one save at a time
    _saver: ThreadPoolExecutor | None = None  # the one thread that snapshots (see save_memory)
    _seq: int = 0  # the last journal sequence number handed out
    _position: int = 0  # the last journal entry the engines have fully dealt with
    _prunable: int = 0  # journal entries up to here are covered by the snapshot before last
    _versions: dict[str, tuple[Policy, str]] = field(default_factory=dict)  # policy_version's
    _engine_keys: dict[str, str] = field(default_factory=dict)  # community -> its engine's key

    # -- life cycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        """Restore the engines' memory and the outbox after a restart; start scoring and the
        event consumer. Adapters, executor and scheduler are started by ``bot.runtime.app``."""
        now = self.clock()
        recovered = await asyncio.to_thread(self.store.outbox.recover, now)
        if recovered.requeued or recovered.expired:
            log.info("outbox_recovered", requeued=recovered.requeued, expired=recovered.expired)
        covered: dict[str, int] = {}
        self._seq = await asyncio.to_thread(self.store.journal.last_seq)
        for key in self.policies:
            self.engines[key], covered[key] = await asyncio.to_thread(self._restored_engine, key)
        # Pruning may have emptied the journal: number on after what the snapshots cover, or the
        # next events would reuse numbers a snapshot claims, and a crash would never replay them.
        self._seq = max([self._seq, *covered.values()])
        await self._replay_journal(covered)
        saved_modes = await asyncio.to_thread(self.store.states.load, "modes")
        if saved_modes is not None and isinstance(saved_modes.blob, dict):
            self.modes.update(saved_modes.blob)
        scoring = self.config.scoring
        # One batch scored here while others are in the sentence tier's processes; Detoxify
        # runs here, and two batches of it at once would only fight over the cores.
        parallel = 1 + scoring.sentence_processes if scoring.backend == "embedded" else 1
        self._scoring = ScoringQueue(self.scorer, scoring.batch_size, scoring.batch_wait_ms / 1000,
                                     observe=self.metrics.observe_scoring, parallel=parallel)  # fmt: skip
        self._scoring.start()
        self._stages = [asyncio.create_task(self._score_stage(), name="longform-scoring-stage"),
                        asyncio.create_task(self._judge_stage(), name="longform-judge-stage")]  # fmt: skip
        scoring_queue = self._scoring
        self.metrics.watch(
            self._queue.qsize, lambda: scoring_queue.depth, self.store.outbox.pending
        )

    async def close(self) -> None:
        """Finish the events already queued, save the engines' memory, stop scoring."""
        await self._queue.join()
        for stage in self._stages:
            stage.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stage
        self._stages = []
        await self.save_memory()
        if self._saver is not None:
            self._saver.shutdown()
            self._saver = None
        if self._scoring is not None:
            await self._scoring.close()

    def _restored_engine(self, key: str) -> tuple[Engine, int]:
        """The engine ``key`` as last saved, and the last journal entry its memory covers."""
        policy = self.policies[key]
        stored = self.store.states.load(f"engine:{key}")
        if stored is None:
            return Engine(policy, self.scorer), 0
        blob: object = stored.blob
        covered = self._seq  # a version-1 snapshot predates the journal: nothing to replay
        if stored.version >= SNAPSHOT_VERSION and isinstance(stored.blob, dict):
            blob, covered = stored.blob.get("engine"), int(stored.blob.get("journal_seq") or 0)
        try:
            engine = Engine.restore(policy, self.scorer, blob if isinstance(blob, dict) else {})
        except SnapshotError as error:
            log.warning("engine_memory_not_restored", engine=key, problem=str(error))
            return Engine(policy, self.scorer), 0
        log.info("engine_memory_restored", engine=key, saved_at=stored.saved_at.isoformat(),
                 journal_seq=covered, **engine.size)  # fmt: skip
        return engine, covered

    async def _replay_journal(self, covered: dict[str, int]) -> None:
        """Give each engine the journal entries its snapshot does not cover, in order."""
        start = min(covered.values(), default=0)
        self._position = self._prunable = start
        rows = await asyncio.to_thread(self.store.journal.since, start)
        actions = 0
        for row in rows:
            for key, engine in self._engines_for(row.entry):
                if row.seq > covered[key]:
                    decided = self._apply(engine, row.entry, row.scores)
                    actions += len(decided.actions)
                    if decided:
                        await self.submit(decided, key, replayed=True)
            self._position = row.seq
        if rows:
            log.info("journal_replayed", entries=len(rows), actions=actions,
                     hint="decisions already made before the restart are not made again")  # fmt: skip

    @staticmethod
    def _apply(engine: Engine, entry: Entry, scores: Scores | None) -> Decisions:
        if isinstance(entry, Tick):
            return engine.tick(entry.at)
        return engine.feed(entry, scores)

    async def tick(self, now: datetime | None = None) -> None:
        """Advance every engine's clock to ``now`` (journaled first) and submit what falls due."""
        async with self._engine_lock:
            at = now or self.clock()
            self._seq += 1
            seq = self._seq
            await asyncio.to_thread(self.store.journal.append, [(seq, Tick(at), None)])
            for key, engine in self.engines.items():
                decided = engine.tick(at)
                if decided:
                    await self.submit(decided, key)
            self._position = seq

    async def save_memory(self) -> None:
        """Save every engine's memory (called by the scheduler, and on shutdown).

        The snapshots are begun under the engines' lock, so that they and the journal position
        they record agree: by a forked child where the platform allows (the lock is then held
        for the fork alone, and the child writes the JSON; see bot.runtime.snapshots), else here,
        a slice at a time. They are stored after the lock is released, so judging never waits
        for the database. Saves run one at a time, so an older snapshot never overwrites a newer
        one. The journal entries the previous snapshot covered are then pruned (one interval is
        kept, so that an event delivered again soon after is still recognised).

        Always in one thread of its own, not any of asyncio's default pool: each thread there
        allocates from its own malloc arena, and the tens of MiB a large snapshot passes through
        stayed behind in each arena in turn (RSS rose in steps, one per snapshot, measured); one
        thread reuses the same memory every time.
        """
        async with self._save_lock:
            if self._saver is None:
                self._saver = ThreadPoolExecutor(1, thread_name_prefix="longform-snapshot")
            loop = asyncio.get_running_loop()
            in_child = self.config.scheduler.snapshot_in_child
            began = time.perf_counter()
            try:
                async with self._engine_lock:
                    now = self.clock()
                    position, prunable = self._position, self._prunable
                    start = partial(snapshots.start, self.engines, position, in_child=in_child)
                    pending = await loop.run_in_executor(self._saver, start)
                paused = time.perf_counter() - began
                texts = await loop.run_in_executor(self._saver, pending.collect)
            except SnapshotError as error:  # a state the engine cannot store, or a failed child
                log.error("engine_memory_not_saved", problem=str(error),
                          hint="the previous snapshot stays; the next save tries again")  # fmt: skip
                return
            size = sum(len(text.text) for text in texts.values())
            await loop.run_in_executor(self._saver, self._write_snapshots, texts, prunable, now)
            self._prunable = position
            took = time.perf_counter() - began
            self.metrics.snapshot_pause.observe(paused)
            self.metrics.snapshot.observe(took)
            self.metrics.snapshot_bytes.set(size)
            log.info("engine_memory_saved", journal_seq=position, bytes=size,
                     judging_paused_ms=round(paused * 1000, 1), seconds=round(took, 2),
                     in_child=pending.pid != 0)  # fmt: skip

    def _write_snapshots(self, texts: dict[str, EncodedJSON], prunable: int, now: datetime) -> None:
        for key in list(texts):
            blob = texts.pop(key)  # each text freed once stored, not after all of them
            self.store.states.save(f"engine:{key}", blob, version=SNAPSHOT_VERSION, now=now)
            del blob
        self.store.journal.prune(prunable)
        return_free_memory()

    # -- events in --------------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """The adapters' sink: queues ``event`` (waiting while MAX_BACKLOG events wait: the
        back-pressure that slows intake instead of dropping); returns once the event is judged
        and its decisions are committed. Events are judged in the order of their calls."""
        platform = CommunityRef.of(_community_of(event) or "").platform
        self.metrics.events.labels(platform or "any", type(event).__name__).inc()
        event = _sanitised(event)
        self._watch_backlog()
        loop = asyncio.get_running_loop()
        judged: asyncio.Future[None] = loop.create_future()
        if self._waiting or self._queue.full():
            # Not ``await queue.put``: a caller woken by a free place could be overtaken by a
            # newer one, and the events of a thread would be judged out of order.
            admitted: asyncio.Future[None] = loop.create_future()
            self._waiting.append(((event, judged), admitted))
            await admitted
        else:
            self._queue.put_nowait((event, judged))
        await judged

    def _admit(self) -> None:
        """Let waiting callers' events into the freed places, in the order they came."""
        while self._waiting and not self._queue.full():
            queued, admitted = self._waiting.popleft()
            self._queue.put_nowait(queued)
            if not admitted.done():
                admitted.set_result(None)

    def _watch_backlog(self) -> None:
        depth = self._queue.qsize() + len(self._waiting)
        if depth >= MAX_BACKLOG * 0.8 and not self._backlog_warned:
            self._backlog_warned = True
            log.warning("event_backlog", waiting=depth, limit=MAX_BACKLOG,
                        hint="events arrive faster than they are judged; adapters now wait")  # fmt: skip
        elif depth < MAX_BACKLOG * 0.2:
            self._backlog_warned = False

    async def settle(self) -> None:
        """Wait until every queued event has been judged (tests and shutdown use it)."""
        await self._queue.join()

    async def _score_stage(self) -> None:
        """Take what is waiting (up to a batch), score its texts together, hand it on."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_LIMIT and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._admit()
            try:
                scores = await self._scores(batch)
            except Exception:  # a failing scorer must not lose the events: the engine scores
                log.exception("scoring_failed", count=len(batch))
                scores = [None] * len(batch)
            await self._scored.put((batch, scores))

    async def _scores(self, batch: list[_Queued]) -> list[Scores | None]:
        """Each event's scores (None where it has no text, or when there is no scoring)."""
        texts = [
            event.text for event, _ in batch if isinstance(event, MessagePosted | MessageEdited)
        ]
        if self._scoring is None or not texts:
            return [None] * len(batch)
        found = iter(await self._scoring.score_many(texts))
        return [next(found) if isinstance(event, MessagePosted | MessageEdited) else None
                for event, _ in batch]  # fmt: skip

    async def _judge_stage(self) -> None:
        """Judge the scored batches in arrival order, one transaction each: the batches scored
        while the judge was busy are judged together (up to BATCH_LIMIT events), since each
        batch judged costs two transactions and a thread hop whatever its size, and small batches
        waiting in turn behind each other only add to the wait."""
        carried: _Scored | None = None
        while True:
            batch, scores = carried or await self._scored.get()
            carried = None
            while not self._scored.empty():
                more, more_scores = self._scored.get_nowait()
                if len(batch) + len(more) > BATCH_LIMIT:
                    carried = (more, more_scores)
                    break
                batch, scores = batch + more, scores + more_scores
            try:
                await self._judge_batch([event for event, _ in batch], scores)
            except Exception:  # storage trouble: these events are lost to the log, not the loop
                log.exception("events_failed", count=len(batch))
            finally:
                for _, judged in batch:
                    self._queue.task_done()
                    if not judged.done():
                        judged.set_result(None)

    async def _judge_batch(self, events: list[Event], scores: list[Scores | None]) -> None:
        """Judge the batch, then journal, log and route it in one transaction (the module
        docstring says why that order is safe); then log, count, and wake the executor."""
        self._note_too_old(events)
        async with self._engine_lock:
            numbered = [(self._seq + i, event, found)
                        for i, (event, found) in enumerate(zip(events, scores, strict=True), 1)]  # fmt: skip
            self._seq += len(numbered)
            try:
                routed = await asyncio.to_thread(self._commit_batch, numbered)
            finally:
                self._position = numbered[-1][0]
        self._routed(routed, replayed=False)

    def _commit_batch(self, numbered: list[tuple[int, Event, Scores | None]]) -> _Routed:
        """In a worker thread, under the engines' lock: judge the batch, then its one write
        transaction. The engines are fed before it begins, so that SQLite's one writer lock is
        held for the writes alone, not for the judging (the executor's transactions wait for
        it); nothing is committed before the journal rows, which lead the transaction."""
        routed = _Routed()
        rows = journal_rows(numbered)
        added = self.store.journal.fresh(rows)  # a delivery seen before is not judged again
        fresh = [item for item, new in zip(numbered, added, strict=True) if new]
        if len(fresh) < len(numbered):
            log.info("events_already_judged", count=len(numbered) - len(fresh))
        decided: list[tuple[Decisions, str]] = []
        for _, event, found in fresh:
            try:
                for key, engine in self._engines_for(event):
                    decisions = engine.feed(event, found)
                    if decisions:
                        decided.append((decisions, key))
            except Exception:  # one bad event must not stop the others
                log.exception("event_failed", kind=type(event).__name__)
        with self.store.batch(self._ttl) as batch:
            batch.journal_rows([row for row, new in zip(rows, added, strict=True) if new])
            self._log_messages(batch, fresh)
            batch.read_opt_outs(_prompted(decisions for decisions, _ in decided))
            for decisions, key in decided:
                self._route(batch, decisions, key, routed)
        return routed

    @property
    def _ttl(self) -> timedelta:
        return timedelta(minutes=self.config.outbox.expire_minutes)

    def _note_too_old(self, events: list[Event]) -> None:
        """Say once per batch that events older than the outbox's expiry cannot be acted on."""
        ttl = timedelta(minutes=self.config.outbox.expire_minutes)
        horizon = self.clock() - ttl
        old = [event.at for event in events if event.at < horizon]
        if not old:
            return
        self.metrics.too_old.inc(len(old))
        log.info("events_too_old_to_act_on", count=len(old), oldest=min(old).isoformat(),
                 expire_minutes=self.config.outbox.expire_minutes,
                 hint="decisions on these events expire before they are executed; to act on old "
                      "events raise [outbox] expire_minutes, or judge old conversations with "
                      "`longform replay FILE`")  # fmt: skip

    def _log_messages(self, batch: Batch, fresh: list[tuple[int, Event, Scores | None]]) -> None:
        """Log the batch's new messages (text only within retention); forget deleted ones."""
        keep_text = self.config.storage.retention_days > 0
        messages = [
            (CommunityRef.of(event.community).platform, event if keep_text else _without_text(event),
             found or {})
            for _, event, found in fresh
            if isinstance(event, MessagePosted)
        ]  # fmt: skip
        batch.log_messages(messages)
        deleted = [event.id for _, event, _ in fresh if isinstance(event, MessageDeleted)]
        for platform in self.adapters if deleted else ():
            batch.forget_messages(platform, deleted)

    def _engines_for(self, event: Entry) -> Iterable[tuple[str, Engine]]:
        if isinstance(event, Tick):
            return list(self.engines.items())
        community = _community_of(event)
        if community is None:  # edits and deletions: the engine that saw the message knows it
            return list(self.engines.items())
        key = self._engine_keys.get(community)
        if key is None:  # (the config is read once per community: it does not change)
            if len(self._engine_keys) >= _KNOWN_COMMUNITIES:
                self._engine_keys.clear()
            key = self._engine_keys[community] = self.community(community).engine_key
        return [(key, self.engines[key])]

    def community(self, community: str) -> _Community:
        """The engine and mode that serve a core community id (``platform:id``)."""
        ref = CommunityRef.of(community)
        configured = self.config.community(ref.platform, ref.id)
        key = configured.policy if configured is not None and configured.policy else ""
        mode = (
            self.modes.get(community)
            or self.config.mode
            or (configured.mode if configured else "")
            or self.policies[key].mode
        )
        return _Community(key, mode)

    def set_mode(self, community: str, mode: str) -> None:
        """A moderator's choice of mode for ``community``; saved, so a restart keeps it."""
        self.modes[community] = mode
        self.store.states.save("modes", dict(self.modes), version=1, now=self.clock())

    # -- decisions out ----------------------------------------------------------------------------

    async def submit(
        self,
        decisions: Decisions,
        engine_key: str,
        moderator: bool = False,
        replayed: bool = False,
    ) -> None:
        """Record detections and route actions (to the audit only, or to the outbox), in one
        transaction of their own; the judging of events routes its decisions in the batch's.

        ``moderator``: a moderator asked for these actions, so shadow mode does not hold them back.
        ``replayed``: remade from the journal after a restart (detections were logged before).
        """
        routed = await asyncio.to_thread(self._submit_now, decisions, engine_key, moderator,
                                         replayed)  # fmt: skip
        self._routed(routed, replayed)

    def _submit_now(
        self, decisions: Decisions, engine_key: str, moderator: bool, replayed: bool
    ) -> _Routed:
        routed = _Routed()
        with self.store.batch(self._ttl) as batch:
            self._route(batch, decisions, engine_key, routed, moderator=moderator,
                        replayed=replayed)  # fmt: skip
        return routed

    def _route(
        self,
        batch: Batch,
        decisions: Decisions,
        engine_key: str,
        routed: _Routed,
        moderator: bool = False,
        replayed: bool = False,
    ) -> None:
        """Route ``decisions``' actions in ``batch``: withheld ones to the audit, the rest to
        the outbox (grouped by platform)."""
        if decisions.detections:
            routed.detections.append(decisions)
        by_platform: dict[str, list[Decision]] = {}
        for action in decisions.actions:
            routed.actions += 1
            if not replayed:
                self.metrics.decisions.labels(kind_name(action), str(action.signal)).inc()
            withheld = None if moderator else self._withheld(batch, action, engine_key)
            if withheld is None:
                platform = CommunityRef.of(action.conversation.community).platform
                by_platform.setdefault(platform, []).append(action)
            else:
                self._audit_only(batch, action, withheld, engine_key)
        for platform, actions in by_platform.items():
            provenance = self.provenance(platform, engine_key, actions[0].conversation.community)
            batch.enqueue(actions, now=self.clock(), provenance=provenance)
            routed.sent += len(actions)
        for record in decisions.outcomes:  # outcomes (issue 17): beside their audit rows, once
            batch.record_outcomes([record], CommunityRef.of(record.conversation.community).platform)

    def _routed(self, routed: _Routed, replayed: bool) -> None:
        """After the commit: log the detections (not when replayed) and wake the executor."""
        for decisions in () if replayed else routed.detections:
            for detection in decisions.detections:
                log.info("detected", signal=str(detection.signal), message=detection.message_id,
                         target=detection.target, score=detection.score)  # fmt: skip
        if routed.sent:
            self.wakeup.set()

    def _withheld(self, batch: Batch, action: Decision, engine_key: str) -> Outcome | None:
        # The checks live with the execution pipeline (bot.runtime.pipeline); run at submit, in
        # the batch's transaction (the opt-out read included).
        experiment = self.policies[engine_key].experiment
        checks = (shadow_check(lambda c: self.community(c).mode),
                  holdback_check(experiment.holdback, experiment.salt),
                  opt_out_check(batch.is_opted_out))  # fmt: skip
        return withheld(checks, action)

    def provenance(self, platform: str, engine_key: str, community: str) -> Provenance:
        """Where a decision came from, as the audit records it."""
        policy = self.policies[engine_key]
        cached = self._versions.get(engine_key)
        if cached is None or cached[0] is not policy:  # (hashing a policy's repr: ~0.1 ms)
            cached = self._versions[engine_key] = (policy, policy_version(policy))
        return Provenance(platform, policy.name, cached[1], self.community(community).mode)

    def _audit_only(
        self, batch: Batch, action: Decision, outcome: Outcome, engine_key: str
    ) -> None:
        platform = CommunityRef.of(action.conversation.community).platform
        provenance = self.provenance(platform, engine_key, action.conversation.community)
        entry = AuditEntry.of(action, outcome, at=self.clock(), provenance=provenance,
                              decision_key=decision_key(action, platform))  # fmt: skip
        if batch.audit_once(entry):  # a decision remade after a restart: once
            self.metrics.outcomes.labels(kind_name(action), str(outcome)).inc()

    def replace_policies(self, policies: Mapping[str, Policy]) -> None:
        """Put new, already validated policies in force; the engines keep what they remember."""
        missing = set(self.policies) - set(policies)
        if missing:
            raise ValueError(f"new policies lack {sorted(missing)}")
        for key, engine in self.engines.items():
            engine.replace_policy(policies[key])
        self.policies = dict(policies)


def _prompted(decided: Iterable[Decisions]) -> Iterator[tuple[str, str, str]]:
    """(platform, community id, member) of each private prompt decided: whose opt-out to read."""
    for decisions in decided:
        for action in decisions.actions:
            if isinstance(action, PromptMember):
                ref = CommunityRef.parse(action.conversation.community)
                yield ref.platform, ref.id, action.member


def _sanitised(event: Event) -> Event:
    """``event`` with its text made valid UTF-8 and cut to MAX_TEXT characters."""
    if not isinstance(event, MessagePosted | MessageEdited):
        return event
    text = event.text
    if len(text) > MAX_TEXT:
        log.warning("message_cut", message=event.id, length=len(text), kept=MAX_TEXT)
        text = text[:MAX_TEXT]
    # A lone surrogate (half of a UTF-16 pair) cannot be stored or tokenised: replace it.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return event if text == event.text else replace(event, text=text)


def _community_of(event: Event) -> str | None:
    if isinstance(event, MessagePosted | MemberJoined):
        return event.community
    if isinstance(event, LongformOpened):
        return event.conversation.community
    return None


def _without_text(message: MessagePosted) -> MessagePosted:
    return MessagePosted(message.id, message.at, message.community, message.channel,
                         message.author, "", message.thread, message.reply_to,
                         message.reply_to_author, message.mentions)  # fmt: skip
