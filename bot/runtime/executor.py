"""Carrying out what the outbox holds, one decision at a time, never stopping on a failure.

How it works: the executor claims due items from the outbox, hands each to the adapter of its
platform with a timeout, and records the result: done (sent or downgraded), or failed with a retry
time (the platform's retry-after if it gave one, else a doubling backoff) until ``max_attempts``,
then failed for good. An exception from an adapter is a failed attempt like any other. When a slow
mode is set, its lift is scheduled as a persistent job, so it happens even across a restart; when
a long-form space is opened, a closing reminder is scheduled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot.core.decisions import LiftSlowMode, OpenLongformSpace, SetSlowMode, UndoActions
from bot.runtime.gateway import CommunityRef
from bot.runtime.pipeline import setting_key
from bot.runtime.platform import ActionResult, Status
from bot.runtime.service import Runtime
from bot.runtime.undo import record_undo
from bot.storage.codec import kind_name
from bot.storage.outbox import OutboxItem
from bot.storage.schema import Outcome

log = structlog.get_logger()
ACTION_TIMEOUT = 30.0  # seconds one platform call may take before it counts as failed
_IDLE_POLL = 1.0  # seconds between outbox checks when nothing wakes the executor

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
        """Stop after the attempt in progress; what is left stays in the outbox."""
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
        while True:
            items = await asyncio.to_thread(
                self.runtime.store.outbox.claim_due, self.runtime.clock(), 10, self.platforms
            )
            if not items:
                return attempts
            for item in items:
                await self._execute(item)
                attempts += 1

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

    async def _execute(self, item: OutboxItem) -> None:
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
            # Before the undo's own line: whoever waits for the undo then finds both.
            await asyncio.to_thread(record_undo, self.runtime, decision, result.detail)
        await asyncio.to_thread(self._record, item, result)
        if result.status is Status.SENT:
            self._follow_up(decision, result)

    def _slow_mode_was_set(self, lift: LiftSlowMode, platform: str) -> bool:
        stored = self.runtime.store.outbox.get(setting_key(lift, platform))
        return stored is not None and stored.outcome in (Outcome.SENT, Outcome.DOWNGRADED)

    def _record(self, item: OutboxItem, result: ActionResult) -> None:
        outbox, now = self.runtime.store.outbox, self.runtime.clock()
        kind = kind_name(item.decision)
        if result.status is Status.FAILED:
            retry = self._retry_at(item, result)
            log.warning("action_failed", kind=kind, key=item.id, attempt=item.attempts,
                        problem=result.detail, retry=retry.isoformat() if retry else None)  # fmt: skip
            outbox.mark_failed(item.id, result.detail, retry, now=now)
            if retry is None:
                self.runtime.metrics.outcomes.labels(kind, "failed").inc()
            return
        outcome = Outcome.DOWNGRADED if result.status is Status.DOWNGRADED else Outcome.SENT
        outbox.mark_done(item.id, outcome, now=now, detail=result.detail)
        self.runtime.metrics.outcomes.labels(kind, str(outcome)).inc()
        log.info("action_done", kind=kind, key=item.id, outcome=str(outcome))

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
