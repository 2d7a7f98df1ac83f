"""Contracts of the runtime that operators and adapters rely on, stated as behaviour: when the
periodic jobs run, the pipeline's checks and how platform trouble maps onto retries, and the log
events operators alert on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from bot.runtime import jobs
from bot.runtime.app import Service, build_service
from tests.runtime_support import service_config

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    config = service_config(
        tmp_path, scheduler={"tick_seconds": 45, "snapshot_seconds": 600, "digest_hour_utc": 6}
    )
    built = build_service(config)
    with time_machine.travel(NOW, tick=False):
        await built.runtime.open()
    yield built
    await built.runtime.close()
    built.runtime.store.close()


async def test_periodic_jobs_run_at_the_configured_times(service: Service) -> None:
    with time_machine.travel(NOW, tick=False):
        scheduler = jobs.scheduler_for(service.runtime)
        scheduler.start(paused=True)
        try:
            due = {
                job.id: job.trigger.get_next_fire_time(None, NOW) for job in scheduler.get_jobs()
            }
            functions = {job.id: job.func for job in scheduler.get_jobs()}
        finally:
            scheduler.shutdown(wait=False)
    assert due["tick"] == NOW + timedelta(seconds=45)
    assert due["save_memory"] == NOW + timedelta(seconds=600)
    assert due["digest"] == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 06:00 UTC, the next day
    assert due["purge"] == datetime(2026, 11, 24, 3, 17, tzinfo=UTC)  # daily, off the hour
    assert functions == {"tick": jobs.tick, "save_memory": jobs.save_memory,
                         "digest": jobs.digest, "purge": jobs.purge}  # fmt: skip


async def test_a_job_that_fell_due_while_down_runs_once_when_the_service_is_back(
    service: Service,
) -> None:
    with time_machine.travel(NOW, tick=False):
        scheduler = jobs.scheduler_for(service.runtime)
        scheduler.start(paused=True)
        try:
            defaults = {(job.misfire_grace_time, job.coalesce, job.max_instances)
                        for job in scheduler.get_jobs()}  # fmt: skip
        finally:
            scheduler.shutdown(wait=False)
    assert defaults == {(None, True, 1)}
