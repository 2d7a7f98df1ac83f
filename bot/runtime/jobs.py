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
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.decisions import (
    Decisions,
    Evidence,
    LiftSlowMode,
    OpenLongformSpace,
    SetSlowMode,
    Signal,
)
from bot.core.events import ConversationKey
from bot.runtime.digest import digest_text
from bot.runtime.platform import split_community
from bot.runtime.service import Runtime

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
    store = SQLAlchemyJobStore(engine=runtime.store.engine, tablename="longform_jobs")
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
    runtime = _runtime()
    now = runtime.clock()
    for key, engine in runtime.engines.items():
        decided = engine.tick(now)
        if decided:
            await runtime.submit(decided, key)


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
    platform, _ = split_community(community)
    adapter = runtime.adapters.get(platform)
    if adapter is None:
        log.warning("reminder_skipped", community=community, problem="platform not running")
        return
    result = await adapter.remind_longform(community, reference, REMINDER.format(days=days))
    log.info("longform_reminded", community=community, outcome=str(result.status))


async def digest() -> None:
    """Send each community's moderators what Longform noticed and did in the last day."""
    runtime = _runtime()
    now = runtime.clock()
    for community in runtime.config.communities:
        key = f"{community.platform}:{community.id}"
        adapter = runtime.adapters.get(community.platform)
        if adapter is None:
            continue
        entries = await asyncio.to_thread(
            runtime.store.audit.entries, since=now - timedelta(days=1), until=now, community=key
        )
        counts = await asyncio.to_thread(runtime.store.feedback.feedback_counts, key)
        result = await adapter.post_to_moderators(
            key, digest_text(community.name or key, entries, counts)
        )
        log.info("digest_sent", community=key, outcome=str(result.status), entries=len(entries))


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
