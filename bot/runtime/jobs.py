"""Timed work, persisted with APScheduler 3.11 in the service's own database.

Jobs are module-level functions whose arguments are plain ids, so they survive a restart (the job
store pickles only the function's name and its arguments, never a client object); they find the
running service through ``bind``. ``misfire_grace_time=None`` and ``coalesce=True`` mean a job that
fell due while the bot was down runs once when it comes back, instead of being dropped.

- ``tick``: advance every engine's clock (windows expire; the engine's own slow-mode lifts).
- ``save_memory``: save the engines' memory for a restart.
- ``lift_slow_mode``: lift one slow mode at its time (idempotent with the engine's own lift: both
  produce the same outbox key, so the platform is asked once).
- ``remind_longform``: a closing reminder in a long-form space after its period.
- ``digest``: the moderators' daily summary; ``purge``: retention.

On shutdown the scheduler is paused and the jobs already running are awaited (``Running``) before
anything they use closes: APScheduler's own shutdown would cancel them half-way (a snapshot cut
off as it is written, logged as an error).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from bot.core.decisions import (
    Decisions,
    Evidence,
    LiftSlowMode,
    OpenLongformSpace,
    SetSlowMode,
    Signal,
)
from bot.core.events import ConversationKey
from bot.runtime.digest import digests
from bot.runtime.gateway import CommunityRef
from bot.runtime.service import Runtime
from bot.storage.store import Store

log = structlog.get_logger()
_BOUND: Runtime | None = None
REMINDER = ("This long-form space has been open for {days:g} days. If the question is settled, a "
            "short summary of where everyone landed helps the next reader; otherwise, carry on.")  # fmt: skip


def bind(runtime: Runtime | None) -> None:
    """Make ``runtime`` the one the jobs act on (None when it stops)."""
    global _BOUND
    _BOUND = runtime


def _runtime() -> Runtime:
    if _BOUND is None:
        raise RuntimeError("no Longform service is running in this process")
    return _BOUND


def scheduler_for(runtime: Runtime) -> AsyncIOScheduler:
    """A scheduler whose jobs are stored beside the service's data, with the periodic jobs added."""
    store = SQLAlchemyJobStore(engine=runtime.store.jobs_engine, tablename="longform_jobs")
    scheduler = AsyncIOScheduler(
        jobstores={"default": store},
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    every = runtime.config.scheduler
    scheduler.add_job(
        tick, "interval", seconds=every.tick_seconds, id="tick", replace_existing=True
    )
    scheduler.add_job(save_memory, "interval", seconds=every.snapshot_seconds, id="save_memory",
                      replace_existing=True)  # fmt: skip
    scheduler.add_job(
        digest, "cron", hour=every.digest_hour_utc, id="digest", replace_existing=True
    )
    scheduler.add_job(purge, "cron", hour=3, minute=17, id="purge", replace_existing=True)
    return scheduler


class Running:
    """Counts the scheduler's jobs in flight, so that a shutdown can wait for them."""

    def __init__(self, scheduler: AsyncIOScheduler) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        # Every submission ends in one of these (no run is ever missed: misfire_grace_time=None).
        scheduler.add_listener(self._ended, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _submitted(self, _event: JobEvent) -> None:
        self._count += 1
        self._idle.clear()

    def _ended(self, _event: JobEvent) -> None:
        self._count = max(0, self._count - 1)
        if self._count == 0:
            self._idle.set()

    async def settle(self, timeout: float) -> bool:
        """Wait until no job runs; False if some still ran after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            log.warning("jobs_still_running", count=self._count, waited_s=timeout)
            return False
        return True


def lift_scheduler(scheduler: AsyncIOScheduler) -> Callable[[SetSlowMode, str], None]:
    """The executor's hook: schedule the lift of a slow mode that was just set."""

    def schedule(decision: SetSlowMode, _reference: str) -> None:
        conversation = decision.conversation
        scheduler.add_job(
            lift_slow_mode, "date", run_date=decision.until, replace_existing=True,
            id=f"lift:{conversation.community}:{conversation.place}:{decision.message_id}",
            args=[conversation.community, conversation.channel, conversation.thread,
                  decision.message_id, str(decision.signal), decision.until.isoformat()],
        )  # fmt: skip

    return schedule


def reminder_scheduler(
    scheduler: AsyncIOScheduler, days: float
) -> Callable[[OpenLongformSpace, str], None]:
    """The executor's hook: schedule the closing reminder of a long-form space just opened."""

    def schedule(decision: OpenLongformSpace, reference: str) -> None:
        if not reference:
            return
        scheduler.add_job(
            remind_longform, "date", run_date=decision.at + timedelta(days=days),
            id=f"remind:{decision.conversation.community}:{reference}", replace_existing=True,
            args=[decision.conversation.community, reference, days],
        )  # fmt: skip

    return schedule


async def tick() -> None:
    """Advance every engine to now and submit what falls due."""
    await _runtime().tick()


async def save_memory() -> None:
    """Save the engines' memory."""
    await _runtime().save_memory()


async def lift_slow_mode(
    community: str, channel: str, thread: str, message_id: str, signal: str, until: str
) -> None:
    """Lift one slow mode; the outbox makes a second lift of the same one a no-op."""
    runtime = _runtime()
    lift = LiftSlowMode(
        conversation=ConversationKey(community, channel, thread), message_id=message_id,
        at=datetime.fromisoformat(until), signal=Signal(signal),
        reason="The slow mode Longform set has run its course.", evidence=Evidence((message_id,)),
    )  # fmt: skip
    key = runtime.community(community).engine_key
    await runtime.submit(Decisions(actions=(lift,)), key)


async def remind_longform(community: str, reference: str, days: float) -> None:
    """Post the closing reminder in a long-form space."""
    runtime = _runtime()
    adapter = runtime.adapters.get(CommunityRef.of(community).platform)
    if adapter is None:
        log.warning("reminder_skipped", community=community, problem="platform not running")
        return
    result = await adapter.remind_longform(community, reference, REMINDER.format(days=days))
    log.info("longform_reminded", community=community, outcome=str(result.status))


async def digest(community: str = "") -> None:
    """Send each community's moderators what Longform noticed and did in the last day (only
    ``community``'s, when given: `longform digest --send` queues such a job)."""
    runtime = _runtime()
    now = runtime.clock()
    found = await asyncio.to_thread(digests, runtime.config, runtime.store, now, community)
    for each in found:
        adapter = runtime.adapters.get(CommunityRef.of(each.community).platform)
        if adapter is None:
            log.warning("digest_skipped", community=each.community, problem="platform not running")
            continue
        result = await adapter.post_to_moderators(each.community, each.text)
        log.info("digest_sent", community=each.community, outcome=str(result.status),
                 problem=result.detail or None)  # fmt: skip


def queue_digest(store: Store, community: str = "", now: datetime | None = None) -> None:
    """Ask the running service to send the digest now: a one-off job written straight into the
    job store it shares through the database (no scheduler runs here), which the service runs at
    its next wake-up (a tick at most), or when it next starts."""
    at = now or datetime.now(UTC)
    jobstore = SQLAlchemyJobStore(engine=store.engine, tablename="longform_jobs")
    holder = BackgroundScheduler(timezone=UTC)  # never started: a Job needs one to be built
    jobstore.start(holder, "default")
    job = Job(holder, id=f"digest-now:{community}", func=digest, trigger=DateTrigger(at, UTC),
              executor="default", args=(community,), kwargs={}, name="digest",
              misfire_grace_time=None, coalesce=True, max_instances=1, next_run_time=at)  # fmt: skip
    with contextlib.suppress(ConflictingIdError):  # one is already waiting: it will do
        jobstore.add_job(job)
    jobstore.shutdown()


async def purge() -> None:
    """Drop message text past retention (and audit rows past theirs), and dashboard sign-in
    links and sessions that can no longer be used."""
    runtime = _runtime()
    storage = runtime.config.storage
    done = await asyncio.to_thread(
        runtime.store.purge, runtime.clock(), storage.retention_days,
        audit_retention_days=storage.audit_retention_days,
    )  # fmt: skip
    signins = await asyncio.to_thread(runtime.store.signins.forget_expired, runtime.clock())
    log.info(
        "purged", texts=done.texts_dropped, outbox=done.outbox_deleted, audit=done.audit_deleted,
        signins=signins,
    )  # fmt: skip
