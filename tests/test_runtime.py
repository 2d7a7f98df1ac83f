"""The service end to end, in process: file platform, real SQLite, real scheduler jobs."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.replay.reader import parse_event
from bot.config import load_config
from bot.core.decisions import Decision, PromptMember
from bot.runtime.app import Service, StartupError, build_service
from bot.runtime.platform import ActionResult
from bot.storage.records import ALL_COMMUNITIES
from tests.runtime_support import QuietPlatform, actions, recent_lines, service_config
from tests.waiting import eventually


async def _serve_until_quiet(service: Service, inbox_lines: list[str], inbox: Path) -> None:
    inbox.write_text("".join(inbox_lines))
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    replay = service.runtime.adapters["replay"]
    position = inbox.with_name("actions.jsonl.inbox-position")

    async def quiet() -> bool:  # every line judged, and nothing left to execute
        done = (
            position.exists() and json.loads(position.read_text())["offset"] == inbox.stat().st_size
        )
        # Nothing due here, and nothing claimed by the executor's own loop either (a batch's
        # decisions are committed together, and the loop may hold several in flight).
        idle = await service.executor.run_due() == 0
        return done and idle and service.runtime.store.outbox.pending() == 0

    await eventually(
        quiet, within=60, what="the service judging the whole inbox and emptying the outbox"
    )
    stop.set()
    try:  # a shutdown that hangs fails here, with every task's stack, instead of hanging CI
        await asyncio.wait_for(asyncio.shield(running), 60)
    except TimeoutError:
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)
        raise
    assert replay is not None


async def test_live_pile_on_reaches_the_platform_once_with_an_audit_trail(tmp_path: Path) -> None:
    service = build_service(service_config(tmp_path))
    store = service.runtime.store
    await _serve_until_quiet(
        service, recent_lines("01_pile_on_clinician.jsonl"), tmp_path / "inbox.jsonl"
    )
    done = actions(tmp_path)
    kinds = [a["action"] for a in done]
    assert "private_prompt" in kinds
    assert "alert_moderators" in kinds
    assert len({a["key"] for a in done}) == len(done)  # each decision executed once
    with type(store).open(service.runtime.config.storage.url) as reopened:
        outcomes = [e.outcome for e in reopened.audit.entries()]
    assert outcomes.count("decided") == len(done)
    assert outcomes.count("sent") == len(done)


async def test_the_service_judges_with_the_sentence_tier_off_the_loop(
    tmp_path: Path, caplog_structlog: list[dict[str, object]]
) -> None:
    service = build_service(service_config(tmp_path, scoring={"sentence_tier": "on"}))
    scorer = service.runtime.scorer
    assert scorer.name == "embedded+minilm"
    await _serve_until_quiet(
        service, recent_lines("01_pile_on_clinician.jsonl"), tmp_path / "inbox.jsonl"
    )
    assert "alert_moderators" in [a["action"] for a in actions(tmp_path)]
    assert scorer.tiers["sentence model"] > 0  # type: ignore[attr-defined]
    started = [e for e in caplog_structlog if e["event"] == "service_started"]
    assert started[0]["scorer"] == "embedded+minilm"  # the admin can see which tiers judge


async def test_the_executor_stops_even_when_woken_as_it_is_stopped(tmp_path: Path) -> None:
    # Python 3.11's wait_for swallowed the cancel when a wakeup landed in the same step, and the
    # service's shutdown hung (seen once in a few dozen suite runs); this makes it every time.
    service = build_service(service_config(tmp_path))
    service.executor.start()
    wakeup = service.runtime.wakeup
    await eventually(  # the executor idle, waiting to be woken (asyncio.Event's own list)
        lambda: bool(wakeup._waiters),  # type: ignore[attr-defined]
        within=10,
        what="the executor waiting on its wakeup event",
    )
    running = service.executor._task
    assert running is not None
    wakeup.set()
    stopping = asyncio.create_task(service.executor.stop())
    await asyncio.wait({stopping}, timeout=10)  # unlike wait_for, cancels nothing when it times out
    assert stopping.done()
    assert running.done()  # stopped, not left looping after a swallowed cancel
    service.runtime.store.close()


async def test_shadow_mode_sends_only_moderator_alerts(tmp_path: Path) -> None:
    service = build_service(service_config(tmp_path, mode="shadow"))
    await _serve_until_quiet(
        service, recent_lines("01_pile_on_clinician.jsonl"), tmp_path / "inbox.jsonl"
    )
    assert {a["action"] for a in actions(tmp_path)} == {"alert_moderators"}
    with type(service.runtime.store).open(service.runtime.config.storage.url) as store:
        assert any(e.outcome == "suppressed_shadow" for e in store.audit.entries())


async def test_opted_out_member_gets_no_private_prompt(tmp_path: Path) -> None:
    service = build_service(service_config(tmp_path))
    lines = recent_lines("01_pile_on_clinician.jsonl")
    first = build_service(service_config(tmp_path / "probe"))
    await _serve_until_quiet(first, lines, (tmp_path / "probe" / "inbox.jsonl"))
    prompted = {a["to"] for a in actions(tmp_path / "probe") if a["action"] == "private_prompt"}
    assert prompted
    for member in prompted:
        service.runtime.store.prefs.set_opt_out(
            "replay", ALL_COMMUNITIES, member, now=datetime.now(UTC)
        )
    await _serve_until_quiet(service, lines, tmp_path / "inbox.jsonl")
    assert not [a for a in actions(tmp_path) if a["action"] == "private_prompt"]
    with type(service.runtime.store).open(service.runtime.config.storage.url) as store:
        assert any(e.outcome == "opted_out" for e in store.audit.entries())


class _Flaky(QuietPlatform):
    """A platform that rate-limits the first attempt at every decision, and raises on one kind."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.sent: list[str] = []

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if isinstance(decision, PromptMember):
            raise RuntimeError("platform client bug")
        if self.attempts[key] == 1:
            return ActionResult.failed("429 Too Many Requests", retry_after=0.0)
        self.sent.append(key)
        return ActionResult.sent()


async def test_failures_are_retried_recorded_and_never_stop_the_loop(tmp_path: Path) -> None:
    flaky = _Flaky()
    config = service_config(tmp_path, outbox={"retry_seconds": 0.01, "max_attempts": 3},
                            replay={"enabled": False})  # fmt: skip
    service = build_service(config, extra_adapters={"replay": flaky})  # type: ignore[dict-item]
    runtime = service.runtime
    clock = [datetime.now(UTC)]
    runtime.clock = lambda: clock[0]  # retries fall due when the test moves the clock, not by sleep
    await runtime.open()
    try:
        for line in recent_lines("01_pile_on_clinician.jsonl"):
            event = parse_event(json.loads(line))
            if hasattr(event, "community"):
                event = replace(event, community=f"replay:{event.community}")
            await runtime.on_event(event)
        for _ in range(20):  # each round: whatever is due, then a second later
            await service.executor.run_due()
            if runtime.store.outbox.pending() == 0:
                break
            clock[0] += timedelta(seconds=1)
        assert runtime.store.outbox.pending() == 0, "decisions still pending after 20 s of retries"
    finally:
        await runtime.close()
    outcomes = [e.outcome for e in runtime.store.audit.entries()]
    assert flaky.sent, "rate-limited actions succeed on retry"
    assert all(count >= 2 for key, count in flaky.attempts.items() if key in flaky.sent)
    assert outcomes.count("failed") >= 1  # the prompts: three attempts, then failed for good
    assert max(flaky.attempts.values()) == 3
    runtime.store.close()


async def test_bad_policy_reload_keeps_the_old_policy(tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    config_path.write_text(f'policy = "strict"\n[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\n'
                           '[replay]\nenabled = true\n')  # fmt: skip
    service = build_service(load_config(config_path), config_path)
    before = service.runtime.policies[""]
    config_path.write_text(config_path.read_text().replace('"strict"', '"no-such-policy"'))
    problems = service.reload()
    assert problems
    assert service.runtime.policies[""] is before
    config_path.write_text(config_path.read_text().replace('"no-such-policy"', '"gentle"'))
    assert service.reload() == []
    assert service.runtime.policies[""].name == "gentle"
    service.runtime.store.close()


def test_missing_token_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    config = service_config(tmp_path, telegram={"enabled": True})
    with pytest.raises(StartupError, match="LONGFORM_TELEGRAM_TOKEN is not set"):
        build_service(config, environ={})


async def test_engine_memory_and_metrics_survive_a_clean_restart(tmp_path: Path) -> None:
    first = build_service(service_config(tmp_path))
    await _serve_until_quiet(
        first, recent_lines("01_pile_on_clinician.jsonl"), tmp_path / "inbox.jsonl"
    )
    remembered = first.runtime.engines[""].size
    events = first.runtime.metrics.registry.get_sample_value(
        "longform_events_total", {"platform": "replay", "kind": "MessagePosted"}
    )
    assert events == sum(
        1 for line in (tmp_path / "inbox.jsonl").read_text().splitlines() if '"message"' in line
    )
    second = build_service(service_config(tmp_path))
    await second.runtime.open()
    try:
        assert second.runtime.engines[""].size == remembered
        assert remembered["messages"] > 0
    finally:
        await second.runtime.close()
        second.runtime.store.close()


async def test_mode_set_by_a_moderator_is_kept_across_restarts(tmp_path: Path) -> None:
    from bot.runtime.control import Control, ControlError

    first = build_service(service_config(tmp_path))
    await first.runtime.open()
    control = Control(first.runtime)
    assert "shadow mode" in await control.set_mode("replay:c", "shadow")
    with pytest.raises(ControlError, match="shadow, live"):
        await control.set_mode("replay:c", "loud")
    await first.runtime.close()
    first.runtime.store.close()
    second = build_service(service_config(tmp_path))
    await second.runtime.open()
    try:
        assert second.runtime.community("replay:c").mode == "shadow"
        assert second.runtime.community("replay:other").mode == "live"
        assert "shadow mode" in await Control(second.runtime).status("replay:c")
    finally:
        await second.runtime.close()
        second.runtime.store.close()


async def test_queue_depths_are_exposed_as_metrics(tmp_path: Path) -> None:
    from bot.core.decisions import Evidence, PostNotice, Signal
    from bot.core.events import ConversationKey
    from bot.storage.audit import Provenance

    service = build_service(service_config(tmp_path))
    runtime = service.runtime
    await runtime.open()
    try:
        sample = runtime.metrics.registry.get_sample_value
        assert sample("longform_outbox_pending") == 0.0
        notice = PostNotice(ConversationKey("replay:c", "general"), "m1", datetime.now(UTC),
                            Signal.PILE_ON, "many replies", Evidence(("m1",)), text="hi")  # fmt: skip
        runtime.store.outbox.enqueue([notice], now=datetime.now(UTC),
                                     provenance=Provenance("replay", "strict", "v", "live"))  # fmt: skip
        assert sample("longform_outbox_pending") == 1.0
        assert sample("longform_event_backlog") == 0.0
        assert sample("longform_scoring_queue") == 0.0
    finally:
        await runtime.close()
        runtime.store.close()
