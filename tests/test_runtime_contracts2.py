"""More runtime contracts operators and moderators rely on, found by mutation testing (issue 18,
seed 30): what /metrics serves, the log events and fields operators read (``detected``,
``engine_memory_not_restored``, ``pid_file_not_written``, ``digest_sent``'s problem), a
downgraded action recorded as downgraded, a journal replayed into the right engine and not again
once saved, a reload that would drop a running engine's policy, the backlog warning re-armed
only below a fifth of the limit, and the outcome report's digest line and rounding."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.decisions import Evidence, PostNotice, Signal
from bot.core.events import ConversationKey, MessagePosted
from bot.runtime import commands, jobs
from bot.runtime import service as service_module
from bot.runtime.app import build_service
from bot.runtime.platform import ActionResult, Status
from bot.storage.audit import Provenance
from tests.runtime_support import service_config
from tests.waiting import eventually

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LIVE = Provenance("replay", "strict", "v", "live")


def _posted(i: int, community: str = "replay:c", thread: str = "t1") -> MessagePosted:
    return MessagePosted(f"p{i}", NOW + timedelta(seconds=i), community, "general", f"u{i}",
                         f"A plain remark about the dosing table, part {i}.", thread=thread)  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- what operators scrape and read ----------------------------------------------------------------


async def test_the_metrics_endpoint_serves_the_running_services_counts(tmp_path: Path) -> None:
    port = _free_port()
    config = service_config(tmp_path, metrics={"enabled": True, "host": "127.0.0.1", "port": port})
    runtime = build_service(config).runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    try:
        await runtime.on_event(_posted(1))
        url = f"http://127.0.0.1:{port}/metrics"
        scraped = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=30).read())
    finally:
        await runtime.close()
        runtime.metrics.close()
        runtime.store.close()
    lines = scraped.decode().splitlines()
    assert 'longform_events_total{kind="MessagePosted",platform="replay"} 1.0' in lines


async def test_a_detection_is_logged_with_its_signal_message_and_target(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    try:
        await runtime.on_event(MessagePosted("d1", NOW, "replay:c", "general", "bo",
                                             "you are an idiot", reply_to_author="ana"))  # fmt: skip
    finally:
        await runtime.close()
        runtime.store.close()
    detected = [e for e in caplog_structlog if e["event"] == "detected"]
    assert detected, "the attack was not detected"
    assert {(e["log_level"], e["signal"], e["message"], e["target"]) for e in detected} == {
        ("info", "ad_hominem", "d1", "ana")
    }
    assert all(isinstance(e["score"], float) for e in detected)


async def test_a_damaged_engine_snapshot_is_logged_with_what_is_wrong_and_a_fresh_engine_starts(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.clock = lambda: NOW
    runtime.store.states.save("engine:", {"engine": {"format": 999}, "journal_seq": 0},
                              version=service_module.SNAPSHOT_VERSION, now=NOW)  # fmt: skip
    await runtime.open()
    try:
        assert runtime.engines[""].size["messages"] == 0
    finally:
        await runtime.close()
        runtime.store.close()
    (warned,) = [e for e in caplog_structlog if e["event"] == "engine_memory_not_restored"]
    assert (warned["log_level"], warned["engine"]) == ("warning", "")
    assert "snapshot format 999" in warned["problem"]


def test_an_unwritable_pid_file_is_logged_with_its_path_the_problem_and_what_to_do(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    where = tmp_path / "no-such-directory" / "longform.pid"
    assert commands._write_pid(where) is False
    (warned,) = [e for e in caplog_structlog if e["event"] == "pid_file_not_written"]
    assert (warned["log_level"], warned["pid_file"]) == ("warning", str(where.resolve()))
    assert "No such file or directory" in warned["problem"]
    assert "--pid-file" in warned["hint"]
    written = tmp_path / "longform.pid"
    assert commands._write_pid(written) is True  # the positive half: a writable path is written
    assert [e["event"] for e in caplog_structlog][-1] == "pid_file_written"


def test_run_with_a_role_but_no_distributed_section_says_so_and_exits_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[replay]\nenabled = true\n'
    )
    result = CliRunner().invoke(app, ["run", "--config", str(path), "--role", "judge"],
                                env={"COLUMNS": "400"})  # fmt: skip
    assert result.exit_code == 2
    assert result.output.startswith("cannot start: --role needs [distributed] enabled = true")
    assert result.output.rstrip().endswith("drop --role")


# -- the executor and the jobs ---------------------------------------------------------------------


class _Platform:
    """Answers every action and every moderators' post with ``answer``."""

    platform = "replay"

    def __init__(self, answer: ActionResult) -> None:
        self.answer = answer

    async def start(self, sink: object, control: object) -> None: ...
    async def stop(self) -> None: ...

    async def execute(self, decision: object, key: str) -> ActionResult:
        return self.answer

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        return self.answer

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        return self.answer


async def test_an_action_done_another_way_is_recorded_counted_and_logged_as_downgraded(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    answer = ActionResult(Status.DOWNGRADED, "DMs closed: a public notice instead")
    config = service_config(tmp_path, replay={"enabled": False})
    service = build_service(config, extra_adapters={"replay": _Platform(answer)})  # type: ignore[dict-item]
    runtime = service.runtime
    runtime.clock = lambda: NOW
    notice = PostNotice(ConversationKey("replay:c", "general"), "m1", NOW, Signal.PILE_ON,
                        "many replies", Evidence(("m1",)), text="hi")  # fmt: skip
    try:
        (key,) = runtime.store.outbox.enqueue([notice], now=NOW, provenance=LIVE)
        assert await service.executor.run_due() == 1
        stored = runtime.store.outbox.get(key)
    finally:
        runtime.store.close()
    assert stored is not None
    assert str(stored.outcome) == "downgraded"
    (done,) = [e for e in caplog_structlog if e["event"] == "action_done"]
    assert (done["key"], done["outcome"]) == (key, "downgraded")
    counted = runtime.metrics.registry.get_sample_value(
        "longform_outcomes_total", {"kind": "post_notice", "outcome": "downgraded"}
    )
    assert counted == 1


async def test_a_digest_the_platform_refused_is_logged_with_the_platforms_problem(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    from bot.runtime.gateway import RetryLaterError
    from bot.runtime.gateway_adapter import GatewayAdapter
    from tests.gateway_support import RecordingGateway

    class _Idle:
        async def start(self, sink: object, control: object) -> None: ...
        async def stop(self) -> None: ...

    gateway = RecordingGateway(platform="replay")
    gateway.fail["alert_moderators"] = [RetryLaterError("rate limited for 5 s", retry_after=5)]
    service = build_service(service_config(tmp_path, replay={"enabled": False}),
                            extra_adapters={"replay": GatewayAdapter(gateway, _Idle())})  # fmt: skip
    runtime = service.runtime
    runtime.clock = lambda: NOW
    jobs.bind(runtime)
    try:
        await jobs.digest("replay:c")  # refused
        await jobs.digest("replay:c")  # the positive half: sent
    finally:
        jobs.bind(None)
        runtime.store.close()
    sent = [e for e in caplog_structlog if e["event"] == "digest_sent"]
    assert [(e["community"], e["outcome"], e["problem"]) for e in sent] == [
        ("replay:c", "failed", "rate limited for 5 s"), ("replay:c", "sent", None)
    ]  # fmt: skip


# -- the journal after a crash, and reloads --------------------------------------------------------


def _two_community_config(tmp_path: Path) -> Any:
    # replay:d has its own policy, so its own engine ("gentle"); replay:c the top-level one ("").
    return service_config(tmp_path, communities=[
        {"platform": "replay", "id": "d", "moderators": "mods", "policy": "gentle"}
    ])  # fmt: skip


async def test_a_replayed_journal_reaches_only_each_events_engine_and_once_saved_is_not_replayed(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    first = build_service(_two_community_config(tmp_path)).runtime
    first.clock = lambda: NOW + timedelta(minutes=1)
    await first.open()
    await first.on_event(_posted(1, "replay:c"))
    await first.on_event(_posted(2, "replay:d"))
    first.store.close()  # a crash: no snapshot, the journal holds both messages
    second = build_service(_two_community_config(tmp_path)).runtime
    second.clock = lambda: NOW + timedelta(minutes=2)
    await second.open()
    try:
        sizes = {key: engine.size["messages"] for key, engine in second.engines.items()}
    finally:
        await second.close()  # a clean shutdown: saves what the replay rebuilt
        second.store.close()
    assert sizes == {"": 1, "gentle": 1}
    assert len([e for e in caplog_structlog if e["event"] == "journal_replayed"]) == 1
    caplog_structlog.clear()
    third = build_service(_two_community_config(tmp_path)).runtime
    third.clock = lambda: NOW + timedelta(minutes=3)
    await third.open()
    try:
        sizes = {key: engine.size["messages"] for key, engine in third.engines.items()}
    finally:
        await third.close()
        third.store.close()
    assert sizes == {"": 1, "gentle": 1}
    assert [e for e in caplog_structlog if e["event"] == "journal_replayed"] == []
    restored = [(e["engine"], e["journal_seq"])
                for e in caplog_structlog if e["event"] == "engine_memory_restored"]  # fmt: skip
    assert sorted(restored) == [("", 2), ("gentle", 2)]


def test_a_reload_that_would_drop_a_running_engines_policy_is_rejected_and_named(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    from bot.config import load_config

    path = tmp_path / "config.toml"
    base = (f'policy = "strict"\n[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\n'
            "[replay]\nenabled = true\n")  # fmt: skip
    path.write_text(base + '[[communities]]\nplatform = "replay"\nid = "d"\nmoderators = "m"\n'
                    'policy = "gentle"\n')  # fmt: skip
    service = build_service(load_config(path), path)
    before = dict(service.runtime.policies)
    try:
        path.write_text(base)  # the community, and with it its policy, gone
        problems = service.reload()
    finally:
        service.runtime.store.close()
    assert problems == ["new policies lack ['gentle']"]
    assert service.runtime.policies == before
    (rejected,) = [e for e in caplog_structlog if e["event"] == "policy_reload_rejected"]
    assert "gentle" in rejected["problems"]


# -- the backlog warning's hysteresis --------------------------------------------------------------


class _OneAtATime:
    """The embedded scorer under another name, scoring one batch per permit the test gives."""

    name = "one-at-a-time"

    def __init__(self) -> None:
        from bot.scoring.embedded import EmbeddedScorer

        self._inner = EmbeddedScorer()
        self.attributes = self._inner.attributes
        self.permits = threading.Semaphore(0)
        self.calls = 0

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.calls += 1
        if not self.permits.acquire(timeout=60):
            raise TimeoutError("the test never let the scorer go")
        return self._inner.score(texts)


async def test_the_backlog_warning_rearms_only_below_a_fifth_of_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog_structlog: list[dict[str, Any]]
) -> None:
    monkeypatch.setattr(service_module, "MAX_BACKLOG", 10)  # read when the runtime is built
    monkeypatch.setattr(service_module, "BATCH_LIMIT", 1)  # one event per scored batch
    scorer = _OneAtATime()
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.scorer = scorer
    await runtime.open()
    calls: list[asyncio.Future[None]] = []
    number = iter(range(1000))

    def waiting() -> float:
        return runtime.metrics.registry.get_sample_value("longform_event_backlog") or 0.0

    async def arrive(count: int) -> None:
        for _ in range(count):
            calls.append(asyncio.ensure_future(runtime.on_event(_posted(next(number)))))
            await asyncio.sleep(0)  # let the call queue its event (a yield, not a wait for time)

    async def drain_to(depth: int) -> None:
        while waiting() > depth:
            taken = scorer.calls + 1
            scorer.permits.release()
            await eventually(lambda taken=taken: scorer.calls == taken, within=30,
                             what="the scorer to take the next event")  # fmt: skip
        assert waiting() == depth

    def warnings() -> list[tuple[int, int]]:
        return [
            (e["waiting"], e["limit"]) for e in caplog_structlog if e["event"] == "event_backlog"
        ]

    try:
        await arrive(1)
        await eventually(lambda: scorer.calls == 1, within=30, what="the first event at the scorer")
        await arrive(9)  # the ninth behind the first sees 8 waiting: 4/5 of 10
        assert warnings() == [(8, 10)]
        await drain_to(2)
        await arrive(7)  # the first sees 2 waiting (not under 2: still warned); the last 8
        assert warnings() == [(8, 10)]
        await drain_to(1)
        await arrive(8)  # the first sees 1 waiting: re-armed; the last sees 8 again
        assert warnings() == [(8, 10), (8, 10)]
    finally:
        scorer.permits.release(1000)
        await asyncio.gather(*calls)
        await runtime.close()
        runtime.store.close()


# -- the outcome report ----------------------------------------------------------------------------


def _stored(arm: str, heat: float, i: int) -> Any:
    from bot.storage.outcomes import StoredOutcome

    return StoredOutcome("replay:c", "pile_on", "post_notice", arm,  # type: ignore[arg-type]
                         NOW + timedelta(minutes=i), {"heat_15": heat})  # fmt: skip


def test_the_digest_line_counts_only_clear_differences() -> None:
    from bot.runtime.outcome_report import summary_line

    few = [_stored(arm, 0.5, i) for i in range(3) for arm in ("treated", "control")]
    assert summary_line(few) == (
        "Outcomes: 3 sent and 3 in the control group measured so far; "
        "`longform outcomes` has the comparison."
    )
    same = [_stored(arm, 0.5, i) for i in range(30) for arm in ("treated", "control")]
    assert "clear difference" not in summary_line(same)
    apart = [_stored("treated", 0.1, i) for i in range(30)]
    apart += [_stored("control", 0.9, i) for i in range(30)]
    assert "; 1 clear difference(s), see `longform outcomes`." in summary_line(apart)


def test_the_median_minutes_to_an_acknowledgement_is_given_to_a_tenth() -> None:
    from bot.runtime.outcome_report import alert_lines
    from bot.storage.outcomes import AlertOutcome

    alerts = [AlertOutcome("replay:c", "pile_on", None, None, minutes_to_ack=m)
              for m in (1 / 3, 1 / 3, 2 / 3)]  # fmt: skip
    (line,) = alert_lines(alerts)
    assert (line["sent"], line["acknowledged"], line["median_minutes_to_ack"]) == (3, 3, 0.3)


# -- the pipeline's alerts -------------------------------------------------------------------------


async def test_an_alert_about_what_could_not_be_done_carries_the_decisions_key_on_its_buttons() -> (
    None
):
    from bot.core.decisions import SetSlowMode
    from bot.runtime.gateway import Alert, MissingPermissionError
    from bot.runtime.pipeline import Pipeline
    from tests.gateway_support import RecordingGateway

    gateway = RecordingGateway(platform="replay")
    gateway.fail["set_slow_mode"] = [MissingPermissionError("Manage Channels", "set slow mode")]
    slow = SetSlowMode(ConversationKey("replay:c", "general", "t1"), "m1", NOW, Signal.PILE_ON,
                       "heated", Evidence(("m1",)), seconds=30,
                       until=NOW + timedelta(minutes=10))  # fmt: skip
    result = await Pipeline(gateway).execute(slow, "key-s")
    (alert,) = gateway.called("alert_moderators")
    assert isinstance(alert, Alert)
    assert alert.actions
    assert {a.key for a in alert.actions} == {"key-s"}
    assert result.status is Status.DOWNGRADED


# -- seed 33's survivors ---------------------------------------------------------------------------


def test_a_written_pid_file_is_logged_with_its_path_and_the_process_id(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    import os

    written = tmp_path / "longform.pid"
    assert commands._write_pid(written) is True
    (logged,) = [e for e in caplog_structlog if e["event"] == "pid_file_written"]
    assert (logged["pid_file"], logged["pid"]) == (str(written.resolve()), os.getpid())
    assert written.read_text() == str(os.getpid())


def test_erase_member_with_a_storage_url_it_cannot_open_says_why_and_exits_2(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "config.toml"
    path.write_text('[storage]\nurl = "://nowhere"\n[replay]\nenabled = true\n')
    result = CliRunner().invoke(app, ["erase-member", "discord", "42", "--config", str(path)],
                                env={"COLUMNS": "400"})  # fmt: skip
    assert result.exit_code == 2
    assert "cannot open the database '://nowhere': not a URL" in result.output


def test_the_digest_command_prints_names_with_square_brackets_as_written(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[replay]\nenabled = true\n'
        '[[communities]]\nplatform = "replay"\nid = "c"\nmoderators = "m"\nname = "Ward [b]"\n'
    )
    result = CliRunner().invoke(app, ["digest", "--config", str(path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "Longform daily digest for Ward [b]: nothing noticed" in result.output


async def test_an_action_before_the_gateway_adapter_started_fails_and_is_retried(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    from bot.runtime.gateway_adapter import GatewayAdapter
    from tests.gateway_support import RecordingGateway

    class _Idle:
        async def start(self, sink: object, control: object) -> None: ...
        async def stop(self) -> None: ...

    adapter = GatewayAdapter(RecordingGateway(platform="replay"), _Idle())
    service = build_service(service_config(tmp_path, replay={"enabled": False}),
                            extra_adapters={"replay": adapter})  # fmt: skip
    runtime = service.runtime
    runtime.clock = lambda: NOW
    notice = PostNotice(ConversationKey("replay:c", "general"), "m1", NOW, Signal.PILE_ON,
                        "many replies", Evidence(("m1",)), text="hi")  # fmt: skip
    try:
        (key,) = runtime.store.outbox.enqueue([notice], now=NOW, provenance=LIVE)
        assert await service.executor.run_due() == 1  # the adapter was never started
    finally:
        runtime.store.close()
    assert [e for e in caplog_structlog if e["event"] == "adapter_raised"] == []
    (failed,) = [e for e in caplog_structlog if e["event"] == "action_failed"]
    assert (failed["key"], failed["problem"]) == (key, "the replay adapter has not started")
    assert failed["retry"] is not None  # tried again once it has started


def test_the_share_of_helpful_alerts_is_given_with_its_interval_to_three_places() -> None:
    from bot.runtime.outcome_report import alert_lines, wilson
    from bot.storage.outcomes import AlertOutcome

    alerts = [AlertOutcome("replay:c", "pile_on", 5.0, "helpful"),
              AlertOutcome("replay:c", "pile_on", 7.0, "wrong")]  # fmt: skip
    (line,) = alert_lines(alerts)
    low, high = wilson(1, 2)
    assert (line["helpful_rate"], line["helpful_low"], line["helpful_high"]) == (
        0.5, round(low, 3), round(high, 3)
    )  # fmt: skip
    assert 0 < line["helpful_low"] < 0.5 < line["helpful_high"] < 1


async def test_a_long_form_space_links_back_to_the_message_it_started_from() -> None:
    from bot.core.decisions import OpenLongformSpace
    from bot.runtime.gateway import Venue
    from bot.runtime.pipeline import Pipeline
    from tests.gateway_support import RecordingGateway

    gateway = RecordingGateway(platform="replay")
    space = OpenLongformSpace(ConversationKey("replay:c", "general", "t1"), "m5", NOW,
                              Signal.LONG_EXCHANGE, "r", Evidence(("m5",)), title="Long form",
                              template=("claim",), participants=("ana", "bo"),
                              key_messages=("m5",), text="Room.", requested_by="Mo")  # fmt: skip
    await Pipeline(gateway).execute(space, "key-v")
    (venue,) = gateway.called("open_venue")
    assert isinstance(venue, Venue)
    assert venue.started_from == "m5"


async def test_an_alert_without_a_summary_states_its_reason_once() -> None:
    from bot.core.decisions import AlertModerators
    from bot.runtime.gateway import Alert
    from bot.runtime.pipeline import Pipeline
    from tests.gateway_support import RecordingGateway

    gateway = RecordingGateway(platform="replay")
    here = ConversationKey("replay:c", "general", "t1")
    bare = AlertModerators(here, "m1", NOW, Signal.PILE_ON, "Five replies to ana.", Evidence(),
                           text="")  # fmt: skip
    summed = replace(bare, text="Pile-on in #general.")
    await Pipeline(gateway).execute(bare, "key-a")
    await Pipeline(gateway).execute(summed, "key-b")
    first, second = gateway.called("alert_moderators")
    assert isinstance(first, Alert)
    assert isinstance(second, Alert)
    assert (first.text, first.reason) == ("Five replies to ana.", "")
    assert (second.text, second.reason) == ("Pile-on in #general.", "Five replies to ana.")


async def test_a_restart_logs_how_much_the_restored_memory_holds(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    for number in (1, 2):
        runtime = build_service(service_config(tmp_path)).runtime
        runtime.clock = lambda: NOW
        await runtime.open()
        try:
            await runtime.on_event(_posted(number))
        finally:
            await runtime.close()
            runtime.store.close()
    (restored,) = [e for e in caplog_structlog if e["event"] == "engine_memory_restored"]
    assert (restored["engine"], restored["messages"], restored["conversations"]) == ("", 1, 1)


async def test_memory_is_saved_in_the_services_one_snapshot_thread(tmp_path: Path) -> None:
    # Written in this process (not a forked child), the text is made in the one saver thread.
    config = service_config(tmp_path, scheduler={"snapshot_in_child": False})
    runtime = build_service(config).runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    seen: list[str] = []
    engine = runtime.engines[""]
    real = engine.snapshot_json

    def recording() -> Any:
        seen.append(threading.current_thread().name)
        return real()

    engine.snapshot_json = recording  # type: ignore[method-assign]
    try:
        await runtime.on_event(_posted(1))
        await runtime.save_memory()
        await runtime.save_memory()
    finally:
        await runtime.close()  # a third save, on shutdown
        runtime.store.close()
    assert len(seen) == 3
    assert len(set(seen)) == 1
    assert seen[0].startswith("longform-snapshot")


async def test_a_batch_the_store_cannot_take_is_logged_with_its_size_and_its_callers_return(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    from bot.storage.errors import StorageError

    runtime = build_service(service_config(tmp_path)).runtime
    runtime.clock = lambda: NOW
    await runtime.open()

    def broken(*args: object, **kwargs: object) -> Any:
        raise StorageError("the database is read-only")

    real = runtime.store.batch
    runtime.store.batch = broken  # type: ignore[method-assign]
    try:
        await runtime.on_event(_posted(1))  # returns: the event is lost to the log, not the loop
    finally:
        runtime.store.batch = real  # type: ignore[method-assign]
        await runtime.close()
        runtime.store.close()
    (failed,) = [e for e in caplog_structlog if e["event"] == "events_failed"]
    assert (failed["log_level"], failed["count"]) == ("error", 1)
