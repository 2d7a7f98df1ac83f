"""Contracts of the runtime that operators and adapters rely on, stated as behaviour: when the
periodic jobs run, the pipeline's checks and how platform trouble maps onto retries, and the log
events operators alert on."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from bot.core.events import MessagePosted
from bot.runtime import jobs
from bot.runtime import service as service_module
from bot.runtime.app import Service, build_service
from tests.runtime_support import service_config
from tests.waiting import eventually

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


class _HeldScorer:
    """The embedded scorer under another name (so it is batched off the loop), holding every
    batch until the test lets it go: the judge stays busy, the backlog grows."""

    name = "held"

    def __init__(self) -> None:
        from bot.scoring.embedded import EmbeddedScorer

        self._inner = EmbeddedScorer()
        self.attributes = self._inner.attributes
        self.go = threading.Event()
        self.calls = 0

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.calls += 1
        if not self.go.wait(timeout=60):
            raise TimeoutError("the test never let the scorer go")
        return self._inner.score(texts)


def _posted(i: int) -> MessagePosted:
    return MessagePosted(f"b{i}", NOW + timedelta(seconds=i), "replay:c", "general", "ana",
                         f"Reading the guidance, part {i}.", thread="t1")  # fmt: skip


async def test_the_backlog_warning_fires_once_at_four_fifths_of_the_limit_and_rearms_when_drained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog_structlog: list[dict[str, Any]]
) -> None:
    monkeypatch.setattr(service_module, "MAX_BACKLOG", 10)  # read when the runtime is built
    scorer = _HeldScorer()
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.scorer = scorer
    await runtime.open()
    try:
        calls = [asyncio.ensure_future(runtime.on_event(_posted(0)))]
        await eventually(lambda: scorer.calls == 1, within=30, what="the first batch at the scorer")
        for i in range(1, 9):  # eight wait behind it: each call saw at most 7 waiting
            calls.append(asyncio.ensure_future(runtime.on_event(_posted(i))))
            await asyncio.sleep(0)  # let the call queue its event (a yield, not a wait for time)
        assert [e for e in caplog_structlog if e["event"] == "event_backlog"] == []
        for i in range(9, 14):  # the ninth call sees 8 waiting: 4/5 of 10; later ones add none
            calls.append(asyncio.ensure_future(runtime.on_event(_posted(i))))
            await asyncio.sleep(0)
        warned = [e for e in caplog_structlog if e["event"] == "event_backlog"]
        assert [(e["log_level"], e["waiting"], e["limit"]) for e in warned] == [("warning", 8, 10)]
        scorer.go.set()
        await asyncio.gather(*calls)
        # Drained (nothing waits as the next call arrives): warned again at the next flood.
        scorer.go.clear()
        scorer.calls = 0
        calls = [asyncio.ensure_future(runtime.on_event(_posted(20)))]
        await eventually(lambda: scorer.calls == 1, within=30, what="the next batch at the scorer")
        for i in range(21, 31):
            calls.append(asyncio.ensure_future(runtime.on_event(_posted(i))))
            await asyncio.sleep(0)
        scorer.go.set()
        await asyncio.gather(*calls)
    finally:
        scorer.go.set()
        await runtime.close()
        runtime.store.close()
    warned = [e for e in caplog_structlog if e["event"] == "event_backlog"]
    assert len(warned) == 2
    assert all("adapters now wait" in e["hint"] for e in warned)


# -- the gateway adapter and the pipeline ----------------------------------------------------------


class _Listener:
    """Records what the adapter hands it when it starts."""

    def __init__(self) -> None:
        self.given: tuple[object, object] | None = None

    async def start(self, sink: object, control: object) -> None:
        self.given = (sink, control)

    async def stop(self) -> None:
        self.given = None


async def test_the_gateway_adapter_hands_its_listener_the_sink_and_control_and_posts_reminders(
    tmp_path: Path,
) -> None:
    from bot.runtime.control import Control
    from bot.runtime.gateway_adapter import GatewayAdapter
    from bot.runtime.platform import Status
    from tests.gateway_support import RecordingGateway

    gateway, listener = RecordingGateway(platform="replay"), _Listener()
    adapter = GatewayAdapter(gateway, listener)
    service = build_service(service_config(tmp_path, replay={"enabled": False}),
                            extra_adapters={"replay": adapter})  # fmt: skip
    runtime = service.runtime
    await runtime.open()
    try:
        control = Control(runtime)
        await adapter.start(runtime.on_event, control)
        assert listener.given == (runtime.on_event, control)
        reminded = await adapter.remind_longform("replay:c", "venue-7", "Time to sum up?")
    finally:
        await runtime.close()
        runtime.store.close()
    assert reminded.status is Status.SENT
    assert gateway.called("post_in_venue") == [("venue-7", "Time to sum up?")]


async def test_a_notices_buttons_all_carry_the_decisions_key() -> None:
    from bot.core.decisions import Evidence, PostNotice, Signal
    from bot.core.events import ConversationKey
    from bot.runtime.gateway import ActionKind, Notice
    from bot.runtime.pipeline import Pipeline
    from tests.gateway_support import RecordingGateway

    gateway = RecordingGateway(platform="replay")
    notice = PostNotice(ConversationKey("replay:c", "general", "t1"), "m1", NOW, Signal.PILE_ON,
                        "many replies", Evidence(("m1",)), text="Slow down.",
                        offers_longform=True)  # fmt: skip
    result = await Pipeline(gateway).execute(notice, "key-1")
    (posted,) = gateway.called("post_notice")
    assert isinstance(posted, Notice)
    assert [(a.kind, a.key) for a in posted.actions] == [
        (ActionKind.WHY, "key-1"), (ActionKind.WRONG, "key-1"), (ActionKind.OPEN_LONGFORM, "key-1")
    ]  # fmt: skip
    assert posted.reply_to == "m1"
    assert result.reference == "post_notice-1"


# -- the executor's log events ---------------------------------------------------------------------


class _Platform:
    """Answers every action with ``answer`` (raising it when it is an exception)."""

    platform = "replay"

    def __init__(self, answer: object) -> None:
        self.answer = answer

    async def start(self, sink: object, control: object) -> None: ...
    async def stop(self) -> None: ...

    async def execute(self, decision: object, key: str) -> object:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def post_to_moderators(self, community: str, text: str) -> object:
        return self.answer

    async def remind_longform(self, community: str, reference: str, text: str) -> object:
        return self.answer


async def _run_one_notice(tmp_path: Path, answer: object) -> str:
    from bot.core.decisions import Evidence, PostNotice, Signal
    from bot.core.events import ConversationKey
    from bot.storage.audit import Provenance

    config = service_config(tmp_path, replay={"enabled": False})
    service = build_service(config, extra_adapters={"replay": _Platform(answer)})  # type: ignore[dict-item]
    service.runtime.clock = lambda: NOW
    notice = PostNotice(ConversationKey("replay:c", "general"), "m1", NOW, Signal.PILE_ON,
                        "many replies", Evidence(("m1",)), text="hi")  # fmt: skip
    try:
        (key,) = service.runtime.store.outbox.enqueue(
            [notice], now=NOW, provenance=Provenance("replay", "strict", "v", "live")
        )
        assert await service.executor.run_due() == 1
    finally:
        service.runtime.store.close()
    return key


async def test_a_sent_action_is_logged_as_done_with_its_kind_key_and_outcome(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    from bot.runtime.platform import ActionResult

    key = await _run_one_notice(tmp_path, ActionResult.sent(reference="n-1"))
    (done,) = [e for e in caplog_structlog if e["event"] == "action_done"]
    assert (done["log_level"], done["kind"], done["key"], done["outcome"]) == (
        "info", "post_notice", key, "sent"
    )  # fmt: skip


async def test_an_adapter_that_raises_is_logged_with_the_decisions_kind_and_retried(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    key = await _run_one_notice(tmp_path, ValueError("adapter bug"))
    (raised,) = [e for e in caplog_structlog if e["event"] == "adapter_raised"]
    assert (raised["log_level"], raised["kind"]) == ("error", "post_notice")
    (failed,) = [e for e in caplog_structlog if e["event"] == "action_failed"]
    assert (failed["key"], failed["problem"]) == (key, "ValueError: adapter bug")
    assert failed["retry"] is not None  # an adapter bug is a failed attempt, tried again


# -- the jobs' bookkeeping -------------------------------------------------------------------------


async def test_a_scheduler_with_nothing_running_settles_at_once(service: Service) -> None:
    with time_machine.travel(NOW, tick=False):
        scheduler = jobs.scheduler_for(service.runtime)
        running = jobs.Running(scheduler)
        scheduler.start(paused=True)
        try:
            assert await running.settle(timeout=5) is True
        finally:
            scheduler.shutdown(wait=False)


async def test_a_running_job_is_waited_for_and_a_finished_one_is_not(service: Service) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow_job() -> None:
        started.set()
        await release.wait()

    from apscheduler.jobstores.memory import MemoryJobStore

    scheduler = jobs.scheduler_for(service.runtime)
    scheduler.add_jobstore(MemoryJobStore(), "memory")  # a test's closure cannot be pickled
    running = jobs.Running(scheduler)
    scheduler.start()
    try:
        scheduler.add_job(slow_job, id="slow", jobstore="memory", next_run_time=datetime.now(UTC))
        await eventually(started.is_set, within=30, what="the job to start")
        assert await running.settle(timeout=0.05) is False  # it still runs
        release.set()
        assert await running.settle(timeout=30) is True
    finally:
        release.set()
        scheduler.shutdown(wait=False)


# -- the outcome report's verdicts -----------------------------------------------------------------


def _stored(arm: str, heat: float, i: int) -> Any:
    from bot.storage.outcomes import StoredOutcome

    return StoredOutcome("replay:c", "pile_on", "post_notice", arm,  # type: ignore[arg-type]
                         NOW + timedelta(minutes=i), {"heat_15": heat})  # fmt: skip


def test_an_outcome_identical_in_both_arms_is_no_clear_difference() -> None:
    from bot.runtime.outcome_report import compare

    stored = [_stored(arm, 0.0, i) for i in range(40) for arm in ("treated", "control")]
    (found,) = compare(stored)
    assert (found.difference, found.low, found.high) == (0.0, 0.0, 0.0)
    assert found.verdict == "no clear difference when sent"


def test_an_outcome_clearly_lower_when_sent_is_called_lower() -> None:
    from bot.runtime.outcome_report import compare

    stored = [_stored("treated", 0.1, i) for i in range(40)]
    stored += [_stored("control", 0.9, i) for i in range(40)]
    (found,) = compare(stored)
    assert found.high is not None
    assert found.high < 0
    assert found.verdict == "lower when sent"


# -- intake: events too old to act on, deleted messages --------------------------------------------


async def test_only_events_older_than_the_outbox_expiry_are_reported_too_old(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    runtime = build_service(service_config(tmp_path, outbox={"expire_minutes": 60})).runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    try:
        await runtime.on_event(MessagePosted("r1", NOW - timedelta(minutes=59), "replay:c",
                                             "general", "ana", "Recent enough.", thread="t1"))  # fmt: skip
        assert [e for e in caplog_structlog if e["event"] == "events_too_old_to_act_on"] == []
        await runtime.on_event(MessagePosted("o1", NOW - timedelta(minutes=61), "replay:c",
                                             "general", "ana", "Too old.", thread="t1"))  # fmt: skip
    finally:
        await runtime.close()
        runtime.store.close()
    (old,) = [e for e in caplog_structlog if e["event"] == "events_too_old_to_act_on"]
    assert (old["count"], old["expire_minutes"]) == (1, 60)
    assert old["oldest"] == (NOW - timedelta(minutes=61)).isoformat()
    assert old["hint"] == (
        "decisions on these events expire before they are executed; to act on old events raise "
        "[outbox] expire_minutes, or judge old conversations with `longform replay FILE`"
    )


async def test_a_deleted_message_loses_its_stored_text(tmp_path: Path) -> None:
    from bot.core.events import MessageDeleted

    runtime = build_service(service_config(tmp_path)).runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    try:
        for i in (1, 2):
            await runtime.on_event(MessagePosted(f"d{i}", NOW, "replay:c", "general", "ana",
                                                 f"Kept text {i}.", thread="t1"))  # fmt: skip
        await runtime.on_event(MessageDeleted("d1", NOW + timedelta(seconds=1)))
        deleted = runtime.store.messages.get("replay", "d1")
        kept = runtime.store.messages.get("replay", "d2")
    finally:
        await runtime.close()
        runtime.store.close()
    assert deleted is not None
    assert deleted.text is None  # the row stays (ids and scores), the words go
    assert kept is not None
    assert kept.text == "Kept text 2."


# -- the commands operators read -------------------------------------------------------------------


def test_check_config_lists_each_problem_on_its_own_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "nowhere" / "db.sqlite"}"\n'
                    "[replay]\nenabled = true\n[discord]\nenabled = true\n")  # fmt: skip
    result = CliRunner().invoke(app, ["check-config", "--config", str(path)],
                                env={"COLUMNS": "400", "LONGFORM_DISCORD_TOKEN": ""})  # fmt: skip
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["discord.token_env", "storage.url"]


def test_the_feedback_report_shows_helpful_and_wrong_counts_per_scope(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.storage.schema import Verdict
    from bot.storage.store import Store

    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[replay]\nenabled = true\n'
    )
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        for message, verdict, community in [("m1", Verdict.WRONG, "discord:1"),
                                            ("m2", Verdict.HELPFUL, "discord:1"),
                                            ("m3", Verdict.HELPFUL, "discord:2")]:  # fmt: skip
            store.feedback.add("discord", "pile_on", verdict, by="mod", at=NOW,
                               message_id=message, community=community)  # fmt: skip
    result = CliRunner().invoke(app, ["evaluate", "--feedback", "--config", str(path)],
                                env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [[cell.strip() for cell in line.split("┃" if "┃" in line else "│")[1:-1]]
            for line in result.output.splitlines() if line.count("┃") + line.count("│") >= 6]  # fmt: skip
    assert rows == [
        ["community", "signal", "helpful", "marked wrong", "precision seen by moderators"],
        ["all communities", "pile_on", "2", "1", "0.67"],
        ["discord:1", "pile_on", "1", "1", "0.50"],
        ["discord:2", "pile_on", "1", "0", "1.00"],
    ]


def test_the_digest_counts_what_was_done_sent_or_downgraded() -> None:
    from bot.core.decisions import Evidence, PostNotice, Signal
    from bot.core.events import ConversationKey
    from bot.runtime.digest import digest_text
    from bot.storage.audit import AuditEntry, Provenance
    from bot.storage.schema import Outcome

    notice = PostNotice(ConversationKey("replay:c", "general", "t1"), "m1", NOW, Signal.PILE_ON,
                        "r", Evidence(("m1",)), text="t")  # fmt: skip
    live = Provenance("replay", "strict", "v", "live")
    entries = [AuditEntry.of(notice, outcome, at=NOW, provenance=live)
               for outcome in (Outcome.DECIDED, Outcome.SENT, Outcome.DOWNGRADED)]  # fmt: skip
    lines = digest_text("Ward", entries, {}).splitlines()
    assert "Done: post notice 2" in lines
    assert "Actions decided: post notice 1" in lines


async def test_closing_while_a_batch_is_being_scored_fails_its_texts_with_a_clear_error() -> None:
    from bot.runtime.scoring_queue import ScoringQueue

    scorer = _HeldScorer()
    queue = ScoringQueue(scorer, batch_size=4, wait=0)
    queue.start()
    scoring = asyncio.ensure_future(queue.score("being scored"))
    try:
        await eventually(lambda: scorer.calls == 1, within=30, what="the batch at the scorer")
        await queue.close()
        with pytest.raises(RuntimeError, match=r"^scoring stopped$"):
            await asyncio.wait_for(scoring, 30)
    finally:
        scorer.go.set()  # the thread finishes; nobody reads its result


def test_the_scoring_batch_size_histogram_has_buckets_for_batch_sizes() -> None:
    from prometheus_client import generate_latest

    from bot.runtime.metrics import Metrics

    metrics = Metrics()
    metrics.batch.observe(100)
    text = generate_latest(metrics.registry).decode()
    buckets = [line for line in text.splitlines()
               if line.startswith("longform_scoring_batch_size_bucket")]  # fmt: skip
    assert [line.split('le="')[1].split('"')[0] for line in buckets] == [
        "1.0", "2.0", "4.0", "8.0", "16.0", "32.0", "64.0", "128.0", "+Inf"
    ]  # fmt: skip
    assert 'le="64.0"} 0.0' in text
    assert 'le="128.0"} 1.0' in text


async def test_a_digest_queued_from_the_command_line_is_in_the_services_job_table(
    service: Service,
) -> None:
    from sqlalchemy import inspect

    with time_machine.travel(NOW, tick=False):
        scheduler = jobs.scheduler_for(service.runtime)
        scheduler.start(paused=True)  # the service's scheduler makes its table first
        try:
            # One table, named as the CLI names it: PostgreSQL would keep "LONGFORM_JOBS" apart.
            tables = inspect(service.runtime.store.engine).get_table_names()
            assert [t for t in tables if t.casefold() == "longform_jobs"] == ["longform_jobs"]
            jobs.queue_digest(service.runtime.store, "replay:c", now=NOW)
            queued = [job for job in scheduler.get_jobs() if job.id == "digest-now:replay:c"]
        finally:
            scheduler.shutdown(wait=False)
    assert [(job.func, job.args, job.name) for job in queued] == [
        (jobs.digest, ("replay:c",), "digest")
    ]
    assert queued[0].next_run_time == NOW  # when it was asked for, not when the CLI wrote it


def test_the_outcomes_command_counts_only_the_chosen_communitys_alerts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.core.decisions import AlertModerators, Evidence, Signal
    from bot.core.events import ConversationKey
    from bot.storage.audit import AuditEntry, Provenance
    from bot.storage.codec import decision_key
    from bot.storage.schema import Outcome
    from bot.storage.store import Store

    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[replay]\nenabled = true\n'
    )
    live = Provenance("replay", "strict", "1", "live")
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        for community, message_id in (("replay:c", "m1"), ("replay:c", "m2"), ("replay:d", "m3")):
            alert = AlertModerators(ConversationKey(community, "general", "t1"), message_id, NOW,
                                    Signal.PILE_ON, "r", Evidence(), text="Look")  # fmt: skip
            store.audit.append(AuditEntry.of(alert, Outcome.SENT, at=NOW, provenance=live,
                                             decision_key=decision_key(alert, "replay")))  # fmt: skip
    runner = CliRunner()
    counts = {}
    for community in ("replay:c", ""):
        args = ["outcomes", "--config", str(path), "--format", "jsonl"]
        result = runner.invoke(app, [*args, "--community", community] if community else args)
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        counts[community] = [(r["signal"], r["sent"]) for r in rows if r.get("type") == "alerts"]
    assert counts == {"replay:c": [("pile_on", 2)], "": [("pile_on", 3)]}


class _Recording:
    """The embedded scorer under another name, recording every text it scores."""

    name = "recording"

    def __init__(self) -> None:
        from bot.scoring.embedded import EmbeddedScorer

        self._inner = EmbeddedScorer()
        self.attributes = self._inner.attributes
        self.texts: list[str] = []

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.texts.extend(texts)
        return self._inner.score(texts)


async def test_a_new_engine_scores_its_rephrased_claims_with_the_services_scorer(
    tmp_path: Path,
) -> None:
    from tests.test_outcomes import ATTACK

    scorer = _Recording()
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.scorer = scorer
    runtime.clock = lambda: NOW
    await runtime.open()  # no saved memory: the engines are new
    try:
        await runtime.on_event(MessagePosted("a1", NOW, "replay:c", "general", "bo", ATTACK,
                                             thread="t1", reply_to_author="ana"))  # fmt: skip
    finally:
        await runtime.close()
        runtime.store.close()
    assert ATTACK in scorer.texts
    claims = [text for text in scorer.texts if text != ATTACK]
    assert claims, "the prompt's rephrased claim was not scored by the service's scorer"
    assert all(claim in ATTACK for claim in claims)


def _sample(metrics: Any, name: str, **labels: str) -> float | None:
    value = metrics.registry.get_sample_value(name, labels)
    return None if value is None else float(value)


async def test_sent_actions_and_events_are_counted_under_their_kind_and_platform(
    tmp_path: Path,
) -> None:
    from bot.core.events import MessageDeleted
    from bot.runtime.platform import ActionResult

    config = service_config(tmp_path, replay={"enabled": False})
    service = build_service(config, extra_adapters={"replay": _Platform(ActionResult.sent())})  # type: ignore[dict-item]
    runtime = service.runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    try:
        await runtime.on_event(MessageDeleted("gone", NOW))  # no community: no platform
        await runtime.on_event(_posted(1))
        from bot.core.decisions import Evidence, PostNotice, Signal
        from bot.core.events import ConversationKey
        from bot.storage.audit import Provenance

        notice = PostNotice(ConversationKey("replay:c", "general"), "m1", NOW, Signal.PILE_ON,
                            "many replies", Evidence(("m1",)), text="hi")  # fmt: skip
        runtime.store.outbox.enqueue([notice], now=NOW,
                                     provenance=Provenance("replay", "strict", "v", "live"))  # fmt: skip
        assert await service.executor.run_due() == 1
    finally:
        await runtime.close()
        runtime.store.close()
    metrics = runtime.metrics
    assert _sample(metrics, "longform_events_total", platform="any", kind="MessageDeleted") == 1
    assert _sample(metrics, "longform_events_total", platform="replay", kind="MessagePosted") == 1
    assert _sample(metrics, "longform_outcomes_total", kind="post_notice", outcome="sent") == 1


async def test_a_restart_logs_that_the_engines_memory_was_restored(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    for _ in range(2):
        runtime = build_service(service_config(tmp_path)).runtime
        runtime.clock = lambda: NOW
        await runtime.open()
        try:
            await runtime.on_event(_posted(len(caplog_structlog)))
        finally:
            await runtime.close()  # saves the engines' memory
            runtime.store.close()
    restored = [e for e in caplog_structlog if e["event"] == "engine_memory_restored"]
    assert [(e["log_level"], e["engine"]) for e in restored] == [("info", "")]
    assert restored[0]["journal_seq"] >= 1


def test_the_digest_covers_the_day_up_to_now_and_nothing_after(tmp_path: Path) -> None:
    from bot.core.decisions import Evidence, PostNotice, Signal
    from bot.core.events import ConversationKey
    from bot.runtime.digest import digests
    from bot.storage.audit import AuditEntry, Provenance
    from bot.storage.schema import Outcome
    from bot.storage.store import Store

    config = service_config(tmp_path)
    live = Provenance("replay", "strict", "v", "live")
    with Store.open(config.storage.url) as store:
        for i, at in enumerate((NOW - timedelta(days=1, minutes=1), NOW - timedelta(hours=1),
                                NOW + timedelta(hours=1))):  # fmt: skip
            notice = PostNotice(ConversationKey("replay:c", "general", "t1"), f"m{i}", at,
                                Signal.PILE_ON, "r", Evidence((f"m{i}",)), text="t")  # fmt: skip
            store.audit.append(AuditEntry.of(notice, Outcome.DECIDED, at=at, provenance=live))
        (digest,) = digests(config, store, NOW, "replay:c")
    assert "Actions decided: post notice 1" in digest.text.splitlines()


async def test_a_private_prompt_carries_the_decisions_text_and_buttons() -> None:
    from bot.core.decisions import Evidence, PromptKind, PromptMember, Signal
    from bot.core.events import ConversationKey
    from bot.runtime.gateway import ActionKind, Private
    from bot.runtime.pipeline import Pipeline
    from tests.gateway_support import RecordingGateway

    gateway = RecordingGateway(platform="replay")
    prompt = PromptMember(ConversationKey("replay:c", "general", "t1"), "m1", NOW,
                          Signal.AD_HOMINEM, "why", Evidence(("m1",)), member="42",
                          kind=PromptKind.AD_HOMINEM_AUTHOR, text="A private note.")  # fmt: skip
    await Pipeline(gateway).execute(prompt, "key-2")
    (sent,) = gateway.called("send_private")
    assert isinstance(sent, Private)
    assert (sent.member.id, sent.text) == ("42", "A private note.")
    assert [(a.kind, a.key) for a in sent.actions] == [
        (ActionKind.WHY, "key-2"), (ActionKind.OPT_OUT, "key-2")
    ]  # fmt: skip


async def test_names_replace_the_longest_id_first_and_a_retried_prompt_reports_what_was_done() -> (
    None
):
    from bot.core.decisions import Evidence, PostNotice, PromptKind, PromptMember, Signal
    from bot.core.events import ConversationKey
    from bot.runtime.gateway import CommunityRef, Notice
    from bot.runtime.pipeline import Pipeline
    from bot.runtime.platform import Status
    from tests.gateway_support import RecordingGateway

    gateway = RecordingGateway(platform="replay", names={"12": "Bo", "123": "Ana"})
    pipeline = Pipeline(gateway)
    assert await pipeline.readable(CommunityRef.parse("replay:c"), "ask 123 and 12") == (
        "ask Ana and Bo"
    )
    here = ConversationKey("replay:c", "general", "t1")
    notice = PostNotice(here, "m1", NOW, Signal.PILE_ON, "r", Evidence(("m1",)), text="See 123.")
    await pipeline.execute(notice, "key-n")
    (posted,) = gateway.called("post_notice")
    assert isinstance(posted, Notice)
    assert posted.text == "See Ana."
    prompt = PromptMember(here, "m1", NOW, Signal.AD_HOMINEM, "why", Evidence(("m1",)),
                          member="42", kind=PromptKind.AD_HOMINEM_AUTHOR, text="A note.")  # fmt: skip
    first = await pipeline.execute(prompt, "key-p")
    again = await pipeline.execute(prompt, "key-p")  # a retry after a crash: not sent twice
    assert (first.status, again.status) == (Status.SENT, Status.SENT)
    assert again.reference == first.reference
    assert len(gateway.called("send_private")) == 1
    gateway.unreachable = True
    note = await pipeline.execute(prompt, "key-q")
    retried = await pipeline.execute(prompt, "key-q")
    assert (note.status, retried.status) == (Status.DOWNGRADED, Status.DOWNGRADED)
