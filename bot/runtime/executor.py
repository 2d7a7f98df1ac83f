"""Carrying out what the outbox holds, a batch at a time, never stopping on a failure.

How it works: the executor claims up to ``BATCH`` due items from the outbox, hands each in turn to
the adapter of its platform with a timeout (in the order claimed, so each thread's order holds),
and records the results: done (sent or downgraded), or failed with a retry time (the platform's
retry-after if it gave one, else a doubling backoff) until ``max_attempts``, then failed for good.
An exception from an adapter is a failed attempt like any other. The results of a batch are
recorded together, in one transaction (``Outbox.record``), at the latest every
``RECORD_EVERY`` seconds, and at once after an undo (a moderator waits for it) and before a
slow mode's lift (which reads whether the slow mode was set). A stop records what was already
attempted and puts the rest of the batch back (``Outbox.release``): nothing is carried out twice
for it. When a slow mode is set, its lift is scheduled as a persistent job, so it happens even
across a restart; when a long-form space is opened, a closing reminder is scheduled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

import structlog

from bot.core.decisions import LiftSlowMode, OpenLongformSpace, SetSlowMode, UndoActions
from bot.runtime.gateway import CommunityRef
from bot.runtime.pipeline import setting_key
from bot.runtime.platform import ActionResult, Status
from bot.runtime.service import Runtime
from bot.runtime.undo import record_undo
from bot.storage.codec import kind_name
from bot.storage.outbox import OutboxItem, Result
from bot.storage.schema import Outcome

log = structlog.get_logger()
ACTION_TIMEOUT = 30.0  # seconds one platform call may take before it counts as failed
_IDLE_POLL = 1.0  # seconds between outbox checks when nothing wakes the executor
BATCH = 100  # items claimed at a time
RECORD_EVERY = 0.2  # seconds a batch's results may wait to be recorded (someone may poll for one)
STOP_GRACE = 5.0  # seconds a stop lets the attempt in progress finish, so it is not redone
_P = ParamSpec("_P")
_T = TypeVar("_T")

ScheduleLift = Callable[[SetSlowMode, str], None]
ScheduleReminder = Callable[[OpenLongformSpace, str], None]


@dataclass
class Executor:
    """Runs the outbox against the adapters until stopped."""

    runtime: Runtime
    schedule_lift: ScheduleLift | None = None
    schedule_reminder: ScheduleReminder | None = None
    platforms: tuple[str, ...] | None = None  # only these platforms' items (None: all)
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False

    def start(self) -> None:
        """Start working through the outbox in the background."""
        self._task = asyncio.create_task(self._run(), name="longform-executor")

    async def stop(self) -> None:
        """Stop after the attempt in progress (``STOP_GRACE`` at most): what was attempted is
        recorded, the rest of the batch goes back to pending in the outbox."""
        if self._task is not None:
            # The flag as well as the cancel: Python 3.11's wait_for can swallow a cancellation
            # that arrives as its wait ends, and the loop must still end (seen as a hung stop).
            self._stopping = True
            self.runtime.wakeup.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._stopping = False

    async def run_due(self) -> int:
        """Execute everything due now; returns how many attempts were made."""
        attempts = 0
        while not self._stopping:
            items = await self._claim()
            if not items:
                break
            attempts += await self._run_batch(items)
        return attempts

    async def _claim(self) -> list[OutboxItem]:
        """The next batch; claimed items are released if a stop cuts the claim short."""
        outbox = self.runtime.store.outbox
        claim = asyncio.ensure_future(
            asyncio.to_thread(outbox.claim_due, self.runtime.clock(), BATCH, self.platforms)
        )
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            await asyncio.wait({claim})
            if not claim.cancelled() and claim.exception() is None:
                await _through(outbox.release, [item.id for item in claim.result()])
            raise

    async def _run(self) -> None:
        wakeup = self.runtime.wakeup
        while not self._stopping:
            try:
                await self.run_due()
            except Exception:  # storage trouble: log, wait, try again; never exit the loop
                log.exception("outbox_unavailable")
            if self._stopping:
                return
            wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_IDLE_POLL):
                    await wakeup.wait()

    async def _run_batch(self, items: list[OutboxItem]) -> int:
        """Attempt ``items`` in order, recording their results as the module docstring says;
        returns how many were attempted."""
        results: list[tuple[OutboxItem, ActionResult]] = []
        attempted = 0
        recorded_at = time.monotonic()
        try:
            for item in items:
                if self._stopping:
                    break
                if isinstance(item.decision, LiftSlowMode) and results:
                    await _through(self._record, results)  # its check reads them
                await self._attempt(item, results)
                attempted += 1
                due = time.monotonic() - recorded_at >= RECORD_EVERY
                if results and (due or isinstance(item.decision, UndoActions)):
                    await _through(self._record, results)
                    recorded_at = time.monotonic()
        finally:
            # Also when stopped or cancelled: record what was attempted, release the rest.
            # (An item recorded here is no longer in flight, so releasing it too changes nothing.)
            await _through(self._finish_batch, results, [item.id for item in items[attempted:]])
        return attempted

    async def _attempt(
        self, item: OutboxItem, results: list[tuple[OutboxItem, ActionResult]]
    ) -> None:
        """Execute ``item``, adding its result to ``results``; while a slow call lasts, the
        earlier results are recorded meanwhile. A stop arriving during the call lets it end
        (``STOP_GRACE`` seconds at most), so that its result is recorded, not redone."""
        attempt = asyncio.create_task(self._execute(item))
        try:
            while not attempt.done():  # (asyncio.wait never cancels the attempt)
                await asyncio.wait({attempt}, timeout=RECORD_EVERY)
                if not attempt.done() and results:
                    await _through(self._record, results)
        except asyncio.CancelledError:
            await asyncio.wait({attempt}, timeout=STOP_GRACE)
            if attempt.done() and not attempt.cancelled() and attempt.exception() is None:
                results.append((item, attempt.result()))
            else:  # cut short: as after a crash, it may be carried out again
                attempt.cancel()
            raise
        results.append((item, attempt.result()))

    async def _execute(self, item: OutboxItem) -> ActionResult:
        decision = item.decision
        platform = CommunityRef.of(decision.conversation.community).platform
        adapter = self.runtime.adapters.get(platform)
        if isinstance(decision, LiftSlowMode) and not await asyncio.to_thread(
            self._slow_mode_was_set, decision, platform
        ):
            result = ActionResult(Status.SKIPPED, "the slow mode was never set (it expired first)")
        elif adapter is None:
            result = ActionResult.failed(f"no adapter for platform {platform!r} is running")
        else:
            try:
                async with asyncio.timeout(ACTION_TIMEOUT):
                    result = await adapter.execute(decision, item.id)
            except TimeoutError:
                result = ActionResult.failed(
                    f"timed out after {ACTION_TIMEOUT:.0f} s", retry_after=0
                )
            except Exception as error:  # an adapter bug is a failed attempt, not a crash
                log.exception("adapter_raised", kind=kind_name(decision))
                result = ActionResult.failed(f"{type(error).__name__}: {error}", retry_after=0)
        if isinstance(decision, UndoActions) and result.status is not Status.FAILED:
            # Before the undo's own result: whoever waits for the undo then finds both lines.
            await asyncio.to_thread(record_undo, self.runtime, decision, result.detail)
        if result.status is Status.SENT:  # the follow-ups write their jobs: off the loop
            await asyncio.to_thread(self._follow_up, decision, result)
        return result

    def _slow_mode_was_set(self, lift: LiftSlowMode, platform: str) -> bool:
        stored = self.runtime.store.outbox.get(setting_key(lift, platform))
        return stored is not None and stored.outcome in (Outcome.SENT, Outcome.DOWNGRADED)

    def _record(self, results: list[tuple[OutboxItem, ActionResult]]) -> None:
        """Record ``results`` in one transaction, log and count each, and empty the list (once
        recorded, so that a failed write leaves them to record again)."""
        if not results:
            return
        outbox, now = self.runtime.store.outbox, self.runtime.clock()
        records = [(item, result, self._result(item, result)) for item, result in results]
        stale = set(outbox.record([record for _, _, record in records], now=now))
        results.clear()
        for item, result, record in records:
            self._log(item, result, record, stale=item.id in stale)

    def _finish_batch(
        self, results: list[tuple[OutboxItem, ActionResult]], left: list[str]
    ) -> None:
        """The end of a batch: record what is left to record, put back what was never tried."""
        if results:
            self._record(results)
        if left:
            released = self.runtime.store.outbox.release(left)
            log.info("outbox_released", count=released)

    def _result(self, item: OutboxItem, result: ActionResult) -> Result:
        if result.status is Status.FAILED:
            return Result(item.id, Outcome.FAILED, result.detail, self._retry_at(item, result))
        outcome = Outcome.DOWNGRADED if result.status is Status.DOWNGRADED else Outcome.SENT
        return Result(item.id, outcome, result.detail)

    def _log(self, item: OutboxItem, result: ActionResult, record: Result, stale: bool) -> None:
        """The log line and metric of one recorded result."""
        kind = kind_name(item.decision)
        if stale:  # finished meanwhile by someone else (expired, failed): left as it was
            log.warning("outbox_result_not_recorded", kind=kind, key=item.id)
            return
        if result.status is Status.FAILED:
            retry = record.retry_at
            log.warning("action_failed", kind=kind, key=item.id, attempt=item.attempts,
                        problem=result.detail, retry=retry.isoformat() if retry else None)  # fmt: skip
            if retry is None:
                self.runtime.metrics.outcomes.labels(kind, "failed").inc()
            return
        self.runtime.metrics.outcomes.labels(kind, str(record.outcome)).inc()
        log.info("action_done", kind=kind, key=item.id, outcome=str(record.outcome))

    def _retry_at(self, item: OutboxItem, result: ActionResult) -> datetime | None:
        settings = self.runtime.config.outbox
        if result.retry_after is None or item.attempts >= settings.max_attempts:
            return None
        backoff = settings.retry_seconds * 2 ** (item.attempts - 1)
        return self.runtime.clock() + timedelta(seconds=max(result.retry_after, backoff))

    def _follow_up(self, decision: object, result: ActionResult) -> None:
        if isinstance(decision, SetSlowMode) and self.schedule_lift is not None:
            self.schedule_lift(decision, result.reference)
        if isinstance(decision, OpenLongformSpace) and self.schedule_reminder is not None:
            self.schedule_reminder(decision, result.reference)


async def _through(func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``func`` in a worker thread, awaited to its end even when the caller is cancelled
    meanwhile (the cancellation is raised after): a write that was begun is seen finished."""
    call = asyncio.ensure_future(asyncio.to_thread(func, *args, **kwargs))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        await asyncio.wait({call})
        raise
