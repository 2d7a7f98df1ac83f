"""The running service: platform events in, the engine's decisions out through the outbox.

How it works: an adapter hands each event to ``on_event``, which starts scoring its text at once
(batched, off the event loop) and queues the event; one consumer takes events in arrival order,
waits for their scores, records the message (text only within retention), and feeds the engine of
the event's community. The decisions go through ``submit``: in shadow mode, what would reach
members is recorded in the audit as ``suppressed_shadow`` and only moderator alerts go out; a
private prompt to a member who opted out is recorded as ``opted_out``; everything else is written
to the outbox *before* anything is executed. The executor (``bot.runtime.executor``) carries out
what the outbox holds, and the scheduler (``bot.runtime.jobs``) ticks the engines, saves their
memory, lifts slow modes, sends the digest and purges old text.

A restart is invisible to members: every event, and every tick of the engines' clock, is written
to the journal (``bot.storage.journal``) before the engines see it, and each saved snapshot
records the last journal entry it covers. ``open`` restores the snapshots and replays the journal
after them through the engines before anything else runs; a decision remade from the same events
has the same idempotency key, so the outbox drops the ones already decided. One lock orders the
engines' work (a batch of events, a tick, a snapshot), so the journal's order is the engines'.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import structlog

from bot.config import Config
from bot.core.decisions import AlertModerators, Decision, Decisions, PromptMember
from bot.core.engine import Engine
from bot.core.events import Event, MemberJoined, MessageDeleted, MessageEdited, MessagePosted
from bot.core.scoring import Scorer, Scores
from bot.core.settings import Policy
from bot.core.snapshot import Plain, SnapshotError
from bot.runtime.metrics import Metrics
from bot.runtime.platform import PlatformAdapter, split_community
from bot.runtime.scoring_queue import ScoringQueue
from bot.storage.audit import AuditEntry, Provenance
from bot.storage.codec import decision_key, kind_name
from bot.storage.journal import Entry, Tick
from bot.storage.schema import Outcome
from bot.storage.store import Store

log = structlog.get_logger()
Clock = Callable[[], datetime]

# Longer texts are cut before judging (Discord allows 4,000 characters, Telegram 4,096): a huge
# message must not stall the loop or the database.
MAX_TEXT = 10_000
# Events waiting to be judged; beyond this, adapters wait (back-pressure) instead of memory growing.
MAX_BACKLOG = 5_000
# Events whose messages are logged in one transaction when they arrive together.
_RECORD_BATCH = 200
# The layout of a saved engine snapshot: 1 was the bare engine state; 2 adds the journal position.
SNAPSHOT_VERSION = 2


def utc_now() -> datetime:
    """The wall clock, in UTC: the only clock the service reads."""
    return datetime.now(UTC)


def policy_version(policy: Policy) -> str:
    """A short fingerprint of a policy's effective values, recorded with every decision."""
    return hashlib.sha256(repr(policy).encode()).hexdigest()[:12]


# An event waiting to be judged: the event, its scoring under way, and who waits for the verdict.
_Queued = tuple[Event, "asyncio.Future[Scores] | None", "asyncio.Future[None]"]


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
    _backlog_warned: bool = False
    modes: dict[str, str] = field(default_factory=dict)  # per community, set by moderators
    reloader: Callable[[], list[str]] | None = None  # reloads policies from the config file
    _scoring: ScoringQueue | None = None
    _consumer: asyncio.Task[None] | None = None
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _engine_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _seq: int = 0  # the last journal sequence number handed out
    _position: int = 0  # the last journal entry the engines have fully dealt with
    _prunable: int = 0  # journal entries up to here are covered by the snapshot before last

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
        self._scoring = ScoringQueue(self.scorer, scoring.batch_size, scoring.batch_wait_ms / 1000,
                                     observe=self.metrics.observe_scoring)  # fmt: skip
        self._scoring.start()
        self._consumer = asyncio.create_task(self._consume(), name="longform-events")
        scoring_queue = self._scoring
        self.metrics.watch(
            self._queue.qsize, lambda: scoring_queue.depth, self.store.outbox.pending
        )

    async def close(self) -> None:
        """Finish the events already queued, save the engines' memory, stop scoring."""
        await self._queue.join()
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        await self.save_memory()
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

        Under the engines' lock, so that the snapshot and the journal position it records agree;
        the journal entries the previous snapshot covered are then pruned (one interval is kept,
        so that an event delivered again soon after is still recognised).
        """
        async with self._engine_lock:
            now = self.clock()
            snapshots = {key: engine.snapshot() for key, engine in self.engines.items()}
            position, prunable = self._position, self._prunable
            await asyncio.to_thread(self._write_snapshots, snapshots, position, prunable, now)
            self._prunable = position

    def _write_snapshots(
        self, snapshots: dict[str, dict[str, Plain]], position: int, prunable: int, now: datetime
    ) -> None:
        for key, snapshot in snapshots.items():
            blob = {"journal_seq": position, "engine": snapshot}
            self.store.states.save(f"engine:{key}", blob, version=SNAPSHOT_VERSION, now=now)
        self.store.journal.prune(prunable)

    # -- events in --------------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        """The adapters' sink: scoring starts at once (batched with other arrivals), judging
        happens in arrival order; returns when the event's decisions are safely in the outbox."""
        platform, _ = split_community(_community_of(event) or "")
        self.metrics.events.labels(platform or "any", type(event).__name__).inc()
        event = _sanitised(event)
        self._watch_backlog()
        scoring: asyncio.Future[Scores] | None = None
        if isinstance(event, MessagePosted | MessageEdited) and self._scoring is not None:
            scoring = asyncio.ensure_future(self._scoring.score(event.text))
        judged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, scoring, judged))
        await judged

    def _watch_backlog(self) -> None:
        depth = self._queue.qsize()
        if depth >= MAX_BACKLOG * 0.8 and not self._backlog_warned:
            self._backlog_warned = True
            log.warning("event_backlog", waiting=depth, limit=MAX_BACKLOG,
                        hint="events arrive faster than they are judged; adapters now wait")  # fmt: skip
        elif depth < MAX_BACKLOG * 0.2:
            self._backlog_warned = False

    async def settle(self) -> None:
        """Wait until every queued event has been judged (tests and shutdown use it)."""
        await self._queue.join()

    async def _consume(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _RECORD_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._judge_batch(batch)
            except Exception:  # storage trouble: these events are lost to the log, not the loop
                log.exception("events_failed", count=len(batch))
            finally:
                for _, _, judged in batch:
                    self._queue.task_done()
                    if not judged.done():
                        judged.set_result(None)

    async def _judge_batch(self, batch: list[_Queued]) -> None:
        """Journal and log the batch's events, then judge each new one in order."""
        scored = [(event, await _scores(event, scoring)) for event, scoring, _ in batch]
        self._note_too_old([event for event, _ in scored])
        async with self._engine_lock:
            numbered = [
                (self._seq + i, event, scores) for i, (event, scores) in enumerate(scored, 1)
            ]
            self._seq += len(numbered)
            fresh = await asyncio.to_thread(self._record, numbered)
            for seq, event, scores in fresh:
                try:
                    for key, engine in self._engines_for(event):
                        decided = engine.feed(event, scores)
                        if decided:
                            await self.submit(decided, key)
                except Exception:  # one bad event must not stop the others
                    log.exception("event_failed", kind=type(event).__name__)
                finally:
                    self._position = seq

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

    def _record(
        self, numbered: list[tuple[int, Event, Scores | None]]
    ) -> list[tuple[int, Event, Scores | None]]:
        """Journal the events (dropping any delivered before) and log their messages."""
        added = self.store.journal.append(numbered)
        fresh = [item for item, new in zip(numbered, added, strict=True) if new]
        if len(fresh) < len(numbered):
            log.info("events_already_judged", count=len(numbered) - len(fresh))
        keep_text = self.config.storage.retention_days > 0
        messages = [
            (split_community(event.community)[0], event if keep_text else _without_text(event),
             scores or {})
            for _, event, scores in fresh
            if isinstance(event, MessagePosted)
        ]  # fmt: skip
        if messages:
            self.store.messages.record_many(messages)
        for _, event, _ in fresh:
            if isinstance(event, MessageDeleted):
                for platform in self.adapters:
                    self.store.messages.forget_message(platform, event.id)
        return fresh

    def _engines_for(self, event: Entry) -> Iterable[tuple[str, Engine]]:
        if isinstance(event, Tick):
            return list(self.engines.items())
        community = _community_of(event)
        if community is None:  # edits and deletions: the engine that saw the message knows it
            return list(self.engines.items())
        key = self.community(community).engine_key
        return [(key, self.engines[key])]

    def community(self, community: str) -> _Community:
        """The engine and mode that serve a core community id (``platform:id``)."""
        platform, raw = split_community(community)
        configured = self.config.community(platform, raw)
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
        """Record detections and route actions: to the audit only, or to the outbox.

        ``moderator``: a moderator asked for these actions, so shadow mode does not hold them back.
        ``replayed``: remade from the journal after a restart (detections were logged before).
        """
        for detection in () if replayed else decisions.detections:
            log.info("detected", signal=str(detection.signal), message=detection.message_id,
                     target=detection.target, score=detection.score)  # fmt: skip
        to_send: list[Decision] = []
        for action in decisions.actions:
            if not replayed:
                self.metrics.decisions.labels(kind_name(action), str(action.signal)).inc()
            withheld = None if moderator else await asyncio.to_thread(self._withheld, action)
            if withheld is None:
                to_send.append(action)
            else:
                await asyncio.to_thread(self._audit_only, action, withheld, engine_key)
        if to_send:
            by_platform: dict[str, list[Decision]] = {}
            for action in to_send:
                platform, _ = split_community(action.conversation.community)
                by_platform.setdefault(platform, []).append(action)
            for platform, actions in by_platform.items():
                await asyncio.to_thread(self._enqueue, actions, platform, engine_key)
            self.wakeup.set()

    def _withheld(self, action: Decision) -> Outcome | None:
        community = action.conversation.community
        if self.community(community).mode == "shadow" and not isinstance(action, AlertModerators):
            return Outcome.SUPPRESSED_SHADOW
        if isinstance(action, PromptMember):
            platform, raw = split_community(community)
            if self.store.prefs.is_opted_out(platform, raw, action.member):
                return Outcome.OPTED_OUT
        return None

    def provenance(self, platform: str, engine_key: str, community: str) -> Provenance:
        """Where a decision came from, as the audit records it."""
        policy = self.policies[engine_key]
        return Provenance(platform, policy.name, policy_version(policy),
                          self.community(community).mode)  # fmt: skip

    def _audit_only(self, action: Decision, outcome: Outcome, engine_key: str) -> None:
        platform, _ = split_community(action.conversation.community)
        provenance = self.provenance(platform, engine_key, action.conversation.community)
        entry = AuditEntry.of(action, outcome, at=self.clock(), provenance=provenance,
                              decision_key=decision_key(action, platform))  # fmt: skip
        if self.store.audit.append_once(entry):  # a decision remade after a restart: once
            self.metrics.outcomes.labels(kind_name(action), str(outcome)).inc()

    def _enqueue(self, actions: list[Decision], platform: str, engine_key: str) -> None:
        provenance = self.provenance(platform, engine_key, actions[0].conversation.community)
        ttl = timedelta(minutes=self.config.outbox.expire_minutes)
        self.store.outbox.enqueue(actions, now=self.clock(), provenance=provenance, ttl=ttl)

    def replace_policies(self, policies: Mapping[str, Policy]) -> None:
        """Put new, already validated policies in force; the engines keep what they remember."""
        missing = set(self.policies) - set(policies)
        if missing:
            raise ValueError(f"new policies lack {sorted(missing)}")
        for key, engine in self.engines.items():
            engine.replace_policy(policies[key])
        self.policies = dict(policies)


async def _scores(event: Event, scoring: asyncio.Future[Scores] | None) -> Scores | None:
    """The scores of ``event``'s text, or None (then the engine scores it itself)."""
    if scoring is None:
        return None
    try:
        return await scoring
    except Exception:  # a failing scorer must not lose the event
        log.exception("scoring_failed", kind=type(event).__name__)
        return None


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
    return None


def _without_text(message: MessagePosted) -> MessagePosted:
    return MessagePosted(message.id, message.at, message.community, message.channel,
                         message.author, "", message.thread, message.reply_to,
                         message.reply_to_author, message.mentions)  # fmt: skip
