"""Runtime contracts found unchecked by mutation testing (issue 18, seed 40): an adapter started
by the service keeping its state through the service's control seam, a claim cut short by a stop
giving its items back, a reminder scheduled for its venue, a journal replay's action count over
every entry, a withheld decision counted under its outcome, a notice's result with nothing to add,
and the wording operators and moderators act on (the distributed roles' "cannot start: ", the
reload's advice, the experiment's line, the outcome report's missing control group, the too-old
events' advice)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.decisions import (
    Decisions,
    Evidence,
    OpenLongformSpace,
    PostNotice,
    Signal,
)
from bot.core.events import ConversationKey, MessagePosted
from bot.runtime import jobs
from bot.runtime.app import build_service
from bot.runtime.control import Control, experiment_text
from bot.runtime.outcome_report import compare
from bot.runtime.pipeline import Pipeline
from bot.runtime.platform import Status
from bot.storage.audit import Provenance
from bot.storage.outcomes import StoredOutcome
from bot.storage.schema import OutboxState, Outcome
from tests.gateway_support import RecordingGateway
from tests.runtime_support import QuietPlatform, service_config

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HERE = ConversationKey("replay:c", "general", "t1")
LIVE = Provenance("replay", "strict", "v", "live")
MIN_1 = timedelta(minutes=1)


def _notice(i: int = 1, at: datetime = NOW) -> PostNotice:
    return PostNotice(HERE, f"m{i}", at, Signal.PILE_ON, "many replies", Evidence((f"m{i}",)),
                      text="Slower?")  # fmt: skip


# -- the service and its adapters ------------------------------------------------------------------


class _Remembering(QuietPlatform):
    """An adapter that, once started, keeps a value through the control seam it was given."""

    async def start(self, sink: object, control: object) -> None:
        assert isinstance(control, Control)
        await control.remember("started", {"by": "the adapter"})


def test_an_adapter_started_by_the_service_keeps_its_state_in_the_services_store(
    tmp_path: Path,
) -> None:
    adapter = _Remembering()
    config = service_config(tmp_path, replay={"enabled": False})
    service = build_service(config, extra_adapters={"replay": adapter})  # type: ignore[dict-item]

    async def serve_and_stop() -> None:
        stop = asyncio.Event()
        stop.set()  # stop as soon as it is serving: the adapters have started by then
        await service.run(stop)

    problems: list[BaseException] = []

    def in_a_thread() -> None:  # (off the main thread: no signal handlers are installed)
        try:
            asyncio.run(serve_and_stop())
        except BaseException as error:  # handed to the test's thread to assert on
            problems.append(error)

    worker = threading.Thread(target=in_a_thread, name="service-with-adapter")
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the service did not stop within 60 s"
    assert problems == []
    reopened = build_service(config, extra_adapters={"replay": adapter})  # type: ignore[dict-item]
    try:
        stored = reopened.runtime.store.states.load("adapter:started")
    finally:
        reopened.runtime.store.close()
    assert stored is not None
    assert stored.blob == {"by": "the adapter"}


# -- the executor ----------------------------------------------------------------------------------


async def test_a_claim_cut_short_by_a_stop_puts_its_items_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = build_service(service_config(tmp_path))
    outbox = service.runtime.store.outbox
    due = datetime.now(UTC) - timedelta(minutes=1)
    keys = outbox.enqueue([_notice(1, due), _notice(2, due)], now=due, provenance=LIVE)
    entered, go = threading.Event(), threading.Event()
    real_claim = outbox.claim_due

    def slow_claim(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        go.wait(30)
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "claim_due", slow_claim)
    running = asyncio.create_task(service.executor.run_due())
    try:
        assert await asyncio.to_thread(entered.wait, 30), "the claim never began"
        running.cancel()  # the stop arrives while the claim is still in its thread
        go.set()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        assert running.cancelled()
        states = [outbox.get(key) for key in keys]
    finally:
        go.set()
        service.runtime.store.close()
    assert [(s.state, s.attempts) for s in states if s is not None] == [
        (OutboxState.PENDING, 0),
        (OutboxState.PENDING, 0),
    ]


async def test_a_notice_the_platform_posted_without_comment_records_no_detail() -> None:
    result = await Pipeline(RecordingGateway()).execute(_notice(), "k1")
    assert (result.status, result.detail, result.reference) == (Status.SENT, "", "post_notice-1")


# -- jobs ------------------------------------------------------------------------------------------


def test_a_long_form_spaces_reminder_is_scheduled_for_that_space_days_after_it_opened() -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(timezone=UTC)  # never started: the job waits in its list
    space = OpenLongformSpace(HERE, "m2", NOW, Signal.ESCALATION, "r", Evidence(("m1",)),
                              title="Long form", template=("Claim",), participants=("ana",),
                              key_messages=("m1",), text="More room.")  # fmt: skip
    jobs.reminder_scheduler(scheduler, 3.0)(space, "venue-7")
    (job,) = scheduler.get_jobs()
    assert job.func is jobs.remind_longform
    assert list(job.args) == ["replay:c", "venue-7", 3.0]
    assert job.trigger.run_date == NOW + timedelta(days=3)


# -- the runtime's memory and routing --------------------------------------------------------------


async def test_a_replayed_journal_counts_the_actions_of_every_entry_it_replayed(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    from tests.test_outcomes import ATTACK

    first = build_service(service_config(tmp_path)).runtime
    first.clock = lambda: NOW + timedelta(minutes=1)
    await first.open()
    for i, thread in enumerate(("t1", "t2"), 1):  # two conversations, an attack in each
        await first.on_event(MessagePosted(f"a{i}", NOW + timedelta(seconds=i), "replay:c",
                                           "general", "bo", ATTACK, thread=thread,
                                           reply_to_author="ana"))  # fmt: skip
    await first.on_event(MessagePosted("p3", NOW + timedelta(seconds=3), "replay:c", "general",
                                       "cy", "A plain remark about the dosing table."))  # fmt: skip
    decided = first.store.outbox.pending()
    first.store.close()  # a crash: no snapshot, the journal holds the three messages
    second = build_service(service_config(tmp_path)).runtime
    second.clock = lambda: NOW + timedelta(minutes=2)
    await second.open()
    await second.close()
    second.store.close()
    (replayed,) = [e for e in caplog_structlog if e["event"] == "journal_replayed"]
    assert decided >= 2  # both attacks were acted on, the last remark was not
    assert (replayed["entries"], replayed["actions"]) == (3, decided)


async def test_a_decision_withheld_in_shadow_mode_is_counted_under_its_outcome(
    tmp_path: Path,
) -> None:
    runtime = build_service(service_config(tmp_path, mode="shadow")).runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    try:
        await runtime.submit(Decisions(actions=(_notice(),)), "")
        counted = runtime.metrics.registry.get_sample_value(
            "longform_outcomes_total",
            {"kind": "post_notice", "outcome": str(Outcome.SUPPRESSED_SHADOW)},
        )
    finally:
        await runtime.close()
        runtime.store.close()
    assert counted == 1


# -- wording operators and moderators act on -------------------------------------------------------


def test_distributed_roles_that_cannot_start_say_so_and_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[replay]\nenabled = true\n'
        "[distributed]\nenabled = true\n"
    )
    result = CliRunner().invoke(app, ["run", "--config", str(path), "--role", "juggler"],
                                env={"COLUMNS": "400"})  # fmt: skip
    assert result.exit_code == 2
    assert result.output.startswith("cannot start: --role: unknown role juggler; use ")


def test_reload_naming_a_process_that_is_gone_says_to_start_the_service(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    gone = _a_finished_process_id()
    pid_file = tmp_path / "longform.pid"
    pid_file.write_text(f"{gone}\n")
    result = CliRunner().invoke(app, ["reload", "--pid-file", str(pid_file)],
                                env={"COLUMNS": "400"})  # fmt: skip
    assert result.exit_code == 1
    assert f"names process {gone}, which is not running" in result.output
    assert result.output.rstrip().endswith("start it with `longform run`")


def _a_finished_process_id() -> int:
    """The id of a child process that has exited and been reaped (so no process has it now,
    short of the kernel reusing it at once)."""
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(child.stdout)
    with pytest.raises(ProcessLookupError, match="No such process"):
        os.kill(pid, 0)
    return pid


def test_with_no_holdback_moderators_are_told_there_is_no_control_group() -> None:
    assert experiment_text(0.0) == (
        " No interventions are held back (no control group; `[experiment] holdback`)."
    )


def test_a_comparison_with_no_control_arm_suggests_the_holdback_is_0() -> None:
    treated = [StoredOutcome("replay:c", "pile_on", "post_notice", "treated", NOW,
                             {"cooled_15": 1.0}) for _ in range(25)]  # fmt: skip
    (comparison,) = compare(treated)
    assert comparison.verdict == (
        "not enough data yet (no control group: [experiment] holdback is 0?)"
    )


async def test_an_engine_restored_from_saved_memory_scores_its_rephrased_claims_with_the_scorer(
    tmp_path: Path,
) -> None:
    from tests.test_outcomes import ATTACK
    from tests.test_runtime_contracts import _Recording

    first = build_service(service_config(tmp_path)).runtime
    first.clock = lambda: NOW
    await first.open()
    await first.on_event(MessagePosted("p1", NOW, "replay:c", "general", "cy",
                                       "A plain remark about the dosing table."))  # fmt: skip
    await first.save_memory()
    await first.close()
    first.store.close()
    scorer = _Recording()
    second = build_service(service_config(tmp_path)).runtime
    second.scorer = scorer
    second.clock = lambda: NOW + MIN_1
    await second.open()  # the engine comes back from its snapshot
    try:
        assert second.store.states.load("engine:") is not None
        await second.on_event(MessagePosted("a1", NOW + MIN_1, "replay:c", "general", "bo",
                                            ATTACK, thread="t1", reply_to_author="ana"))  # fmt: skip
    finally:
        await second.close()
        second.store.close()
    claims = [text for text in scorer.texts if text != ATTACK]
    assert claims, "the prompt's rephrased claim was not scored by the service's scorer"
    assert all(claim in ATTACK for claim in claims)


# -- seed 43's survivors (written after that fresh sample was measured: in-sample for it) --------


def test_the_bootstrap_interval_is_the_middle_95_percent_not_the_resamples_range() -> None:
    from bot.runtime.outcome_report import bootstrap

    # Half the treated helped, no control did: resampled means of 20 spread from about 0.1 to 0.9,
    # but fewer than 2.5% of them lie below 0.25 (or above 0.75).
    d, low, high = bootstrap([1.0] * 10 + [0.0] * 10, [0.0] * 20)
    assert d == 0.5
    assert 0.25 <= low < d < high <= 0.75


def test_an_unlisted_community_with_no_mode_set_anywhere_takes_its_policys_mode(
    tmp_path: Path,
) -> None:
    runtime = build_service(service_config(tmp_path, mode="")).runtime
    try:
        served = runtime.community("replay:unlisted")
    finally:
        runtime.store.close()
    assert served.mode == runtime.policies[""].mode


async def test_a_prompt_already_sent_is_not_sent_again_and_says_so() -> None:
    from bot.core.decisions import PromptKind, PromptMember
    from bot.runtime.pipeline import MemorySteps

    gateway = RecordingGateway()
    pipeline = Pipeline(gateway, MemorySteps())
    prompt = PromptMember(HERE, "m2", NOW, Signal.PILE_ON, "r", Evidence(("m1",)), member="ana",
                          kind=PromptKind.PILE_ON_TARGET, text="Take your time.")  # fmt: skip
    await pipeline.execute(prompt, "k5")
    again = await pipeline.execute(prompt, "k5")
    assert (again.status, again.detail) == (Status.SENT, "done before")
    assert len(gateway.called("send_private")) == 1


async def test_a_long_form_spaces_link_back_is_kept_among_its_decisions_steps() -> None:
    from bot.runtime.pipeline import MemorySteps

    steps = MemorySteps()
    space = OpenLongformSpace(HERE, "m2", NOW, Signal.ESCALATION, "r", Evidence(("m1",)),
                              title="Long form", template=("Claim",), participants=("ana",),
                              key_messages=("m1",), text="More room.")  # fmt: skip
    await Pipeline(RecordingGateway(), steps).execute(space, "k6")
    kept = await steps.load("k6")
    assert kept.get("venue") is not None
    assert kept.get("link") is not None


def test_run_whose_dashboard_cannot_listen_says_so_and_exits_2(tmp_path: Path) -> None:
    import socket

    from typer.testing import CliRunner

    from bot.cli import app

    with socket.socket() as taken:  # the dashboard's port, already in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "config.toml"
        path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
                        f'[replay]\nenabled = true\ninbox = "{tmp_path / "in.jsonl"}"\n'
                        f'actions = "{tmp_path / "out.jsonl"}"\n[scoring]\nsentence_tier = "off"\n'
                        f'[dashboard]\nenabled = true\nport = {port}\n')  # fmt: skip
        result = CliRunner().invoke(app, ["run", "--config", str(path),
                                          "--pid-file", str(tmp_path / "pid")],
                                    env={"COLUMNS": "400"})  # fmt: skip
    assert result.exit_code == 2, result.output
    said = f"cannot start: dashboard.port: cannot listen on 127.0.0.1:{port}; choose a free port"
    assert any(line.startswith(said) for line in result.output.splitlines()), result.output
    assert not (tmp_path / "pid").exists()  # written at the start, removed on the way out


def test_check_config_names_the_platforms_and_each_policy_with_its_mode(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "config.toml"
    path.write_text(f'policy = "strict"\n[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
                    '[replay]\nenabled = true\n[[communities]]\nplatform = "replay"\nid = "c"\n'
                    'moderators = "mods"\npolicy = "gentle"\n')  # fmt: skip
    result = CliRunner().invoke(app, ["check-config", "--config", str(path)],
                                env={"COLUMNS": "400"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "platforms replay;" in result.output
    assert re.search(r"policies strict \(\w+\), gentle \(\w+\)$", result.output.strip())
