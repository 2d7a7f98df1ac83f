"""Scheduled work, with the clock moved by time-machine: nothing here sleeps to wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from bot.core.decisions import Evidence, SetSlowMode, Signal
from bot.core.events import ConversationKey, MessagePosted
from bot.runtime import jobs
from bot.runtime.app import Service, build_service
from bot.runtime.platform import ActionResult
from bot.storage.audit import Provenance
from tests.runtime_support import service_config

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class _Recorder:
    """A platform that records what it is asked to do."""

    platform = "replay"

    def __init__(self) -> None:
        self.executed: list[str] = []
        self.digests: list[str] = []
        self.reminders: list[tuple[str, str]] = []

    async def start(self, sink: object, control: object) -> None: ...
    async def stop(self) -> None: ...

    async def execute(self, decision: object, key: str) -> ActionResult:
        self.executed.append(type(decision).__name__)
        return ActionResult.sent(reference="post-1")

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        self.digests.append(text)
        return ActionResult.sent()

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        self.reminders.append((reference, text))
        return ActionResult.sent()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    communities = [{"platform": "replay", "id": "c", "moderators": "mods", "name": "Ward"}]
    config = service_config(tmp_path, communities=communities)
    built = build_service(config, extra_adapters={"replay": _Recorder()})  # type: ignore[dict-item]
    with time_machine.travel(NOW, tick=False):
        await built.runtime.open()
    jobs.bind(built.runtime)
    yield built
    jobs.bind(None)
    await built.runtime.close()
    built.runtime.store.close()


def _slow_mode(until: datetime) -> SetSlowMode:
    return SetSlowMode(ConversationKey("replay:c", "general", "t1"), "m1", NOW, Signal.PILE_ON,
                       "many replies", Evidence(("m1",)), seconds=60, until=until)  # fmt: skip


async def test_a_slow_mode_lift_is_persisted_and_runs_after_a_restart(service: Service) -> None:
    runtime, recorder = service.runtime, service.runtime.adapters["replay"]
    setting = _slow_mode(NOW + timedelta(minutes=20))
    provenance = Provenance("replay", "strict", "v", "live")
    with time_machine.travel(NOW, tick=False):
        runtime.store.outbox.enqueue([setting], now=NOW, provenance=provenance)
        first = jobs.scheduler_for(runtime)
        first.start(paused=True)
        service.executor.schedule_lift = jobs.lift_scheduler(first)
        await service.executor.run_due()
        first.shutdown(wait=False)  # the process goes away; the job stays in the database
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        second = jobs.scheduler_for(runtime)
        second.start(paused=True)
        lift_jobs = [job for job in second.get_jobs() if job.id.startswith("lift:")]
        assert len(lift_jobs) == 1
        await jobs.lift_slow_mode(*lift_jobs[0].args)
        await service.executor.run_due()
        second.shutdown(wait=False)
    assert recorder.executed == ["SetSlowMode", "LiftSlowMode"]  # type: ignore[attr-defined]


async def test_tick_advances_the_engines(service: Service) -> None:
    runtime = service.runtime
    engine = runtime.engines[""]
    with time_machine.travel(NOW, tick=False):
        engine.feed(MessagePosted("m9", NOW, "replay:c", "general", "ana", "hello"))
        assert engine.size["messages"] == 1
    with time_machine.travel(NOW + timedelta(days=3), tick=False):
        await jobs.tick()
    assert engine.size["messages"] == 0


async def test_digest_tells_moderators_what_happened_without_quotes(service: Service) -> None:
    runtime, recorder = service.runtime, service.runtime.adapters["replay"]
    with time_machine.travel(NOW, tick=False):
        await runtime.on_event(MessagePosted("d1", NOW, "replay:c", "general", "ana", "I disagree"))
        for i, author in enumerate(["bo", "cy", "di", "ed", "fa"]):
            text = f"you clearly have no idea what you are doing, ana ({i})"
            await runtime.on_event(MessagePosted(f"d{i + 2}", NOW + timedelta(seconds=i), "replay:c",
                                                 "general", author, text, thread="",
                                                 reply_to="d1", reply_to_author="ana"))  # fmt: skip
        await service.executor.run_due()
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        await jobs.digest()
    (digest,) = recorder.digests  # type: ignore[attr-defined]
    assert digest.startswith("Longform daily digest for Ward")
    assert "Noticed:" in digest
    assert "no idea" not in digest  # counts and places, never members' words


async def test_purge_drops_text_after_retention_but_keeps_ids_and_scores(service: Service) -> None:
    runtime = service.runtime
    with time_machine.travel(NOW, tick=False):
        await runtime.on_event(MessagePosted("p1", NOW, "replay:c", "general", "ana", "sensitive"))
    with time_machine.travel(NOW + timedelta(days=31), tick=False):
        await jobs.purge()
    kept = runtime.store.messages.get("replay", "p1")
    assert kept is not None
    assert kept.text is None
    assert "toxicity" in kept.scores


async def test_jobs_refuse_to_run_without_a_service() -> None:
    jobs.bind(None)
    with pytest.raises(RuntimeError, match="no Longform service"):
        await asyncio.wait_for(jobs.tick(), 1)
