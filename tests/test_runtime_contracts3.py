"""Runtime contracts found unchecked by mutation testing (issue 18, seed 37): a moderator's request
judged under its own channel's settings, the undo that is not done in time saying what will
happen, an unreadable outbox logged while the executor keeps going, a moderators' post keyed by
its community and text, a platform's wait carried back from a reminder and from a downgrade's
alert, a slow mode's place and a long-form venue's participants, the step names a retry finds
stored, the jobs still running when the scheduler stops, the outcome report's columns and its
``--community`` filter, and the journal position a tick leaves for the next snapshot."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.decisions import (
    AlertModerators,
    Evidence,
    OpenLongformSpace,
    PostNotice,
    SetSlowMode,
    Signal,
)
from bot.core.events import ConversationKey, MessagePosted
from bot.core.requests import ModeratorRequested, Requested
from bot.core.settings import SlowModeSettings
from bot.runtime import jobs
from bot.runtime.app import build_service
from bot.runtime.control import Control, ControlError
from bot.runtime.gateway import Alert, MemberRef, MissingPermissionError, RetryLaterError, Venue
from bot.runtime.gateway_adapter import GatewayAdapter
from bot.runtime.pipeline import MemorySteps, Pipeline
from bot.runtime.platform import Status
from tests.gateway_support import RecordingGateway
from tests.runtime_support import actions, service_config
from tests.waiting import eventually

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HERE = ConversationKey("replay:c", "general", "t1")


@dataclass
class _KeyedGateway(RecordingGateway):
    """A recording gateway that also keeps the idempotency key of every moderators' alert."""

    alert_keys: list[str] = field(default_factory=list)

    async def alert_moderators(self, alert: Alert, key: str) -> Any:
        self.alert_keys.append(key)
        return await super().alert_moderators(alert, key)


class _Listener:
    async def start(self, sink: object, control: object) -> None: ...
    async def stop(self) -> None: ...


# -- the seam adapters call -------------------------------------------------------------------------


async def test_a_slow_down_a_moderator_asks_for_uses_that_channels_slow_mode(
    tmp_path: Path,
) -> None:
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    policy = runtime.policies[""]
    try:
        slower = replace(policy.settings, slow_mode=SlowModeSettings(seconds=300, minutes=20.0))
        runtime.replace_policies({"": replace(policy, channels=(("debate", slower),))})
        control = Control(runtime)
        seconds = {}
        for channel in ("debate", "general"):
            where = ConversationKey("replay:c", channel, "t1")
            request = ModeratorRequested(Requested.SLOW_DOWN, where, "Dana", NOW, f"{channel}-m")
            (slow,) = (await control.ask(request)).actions
            assert isinstance(slow, SetSlowMode)
            seconds[channel] = slow.seconds
    finally:
        await runtime.close()
        runtime.store.close()
    assert policy.settings.slow_mode.seconds != 300
    assert seconds == {"debate": 300, "general": policy.settings.slow_mode.seconds}


async def test_an_undo_not_done_in_time_says_it_is_queued_and_will_be_audited(
    tmp_path: Path,
) -> None:
    from tests.test_undo import _live

    async with _live(tmp_path, executing=False) as live:
        with pytest.raises(ControlError, match="queued but not done yet") as raised:
            await live.control.undo(live.undo(), within=0.1)
    assert str(raised.value) == (
        "The undo is queued but not done yet (the platform is slow or unreachable); it will be, "
        "and the audit will say so."
    )


# -- the executor and the scheduler ----------------------------------------------------------------


async def test_an_unreadable_outbox_is_logged_and_the_executor_keeps_running(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    service = build_service(service_config(tmp_path))
    runtime = service.runtime
    await runtime.open()
    try:
        with sqlite3.connect(tmp_path / "longform.db") as db:  # the storage trouble
            db.execute("DROP TABLE outbox")
        service.executor.start()
        await eventually(lambda: any(e["event"] == "outbox_unavailable" for e in caplog_structlog),
                         within=30, what="the executor to log that the outbox is unavailable")  # fmt: skip
        task = service.executor._task
        assert task is not None
        assert not task.done(), "the executor's loop ended on storage trouble"
    finally:
        await service.executor.stop()
        await runtime.close()
        runtime.store.close()
    logged = [e for e in caplog_structlog if e["event"] == "outbox_unavailable"]
    assert logged[0]["log_level"] == "error"


async def test_jobs_still_running_when_the_wait_ends_are_logged_with_their_count(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    from apscheduler.jobstores.memory import MemoryJobStore

    service = build_service(service_config(tmp_path))
    await service.runtime.open()
    release, started = asyncio.Event(), asyncio.Event()

    async def slow_job() -> None:
        started.set()
        await release.wait()

    scheduler = jobs.scheduler_for(service.runtime)
    scheduler.add_jobstore(MemoryJobStore(), "memory")  # a test's closure cannot be pickled
    running = jobs.Running(scheduler)
    scheduler.start()
    try:
        scheduler.add_job(slow_job, id="slow", jobstore="memory", next_run_time=datetime.now(UTC))
        await eventually(started.is_set, within=30, what="the job to start")
        assert await running.settle(timeout=0.05) is False
    finally:
        release.set()
        scheduler.shutdown(wait=False)
        await service.runtime.close()
        service.runtime.store.close()
    (warned,) = [e for e in caplog_structlog if e["event"] == "jobs_still_running"]
    assert (warned["log_level"], warned["count"], warned["waited_s"]) == ("warning", 1, 0.05)


# -- the gateway adapter and the pipeline ----------------------------------------------------------


async def test_a_moderators_post_is_keyed_by_its_community_and_text(tmp_path: Path) -> None:
    gateway = _KeyedGateway(platform="replay")
    adapter = GatewayAdapter(gateway, _Listener())
    for community, text in (("replay:c", "Digest"), ("replay:c", "Digest"),
                            ("replay:c", "Other"), ("replay:d", "Digest")):  # fmt: skip
        result = await adapter.post_to_moderators(community, text)
        assert result.status is Status.SENT
    first, again, other_text, other_community = gateway.alert_keys
    assert first == again, "the same post twice (a retry) must carry the same key"
    assert len({first, other_text, other_community}) == 3
    assert len(first) == 32
    assert int(first, 16) >= 0  # hexadecimal


async def test_a_rate_limited_reminder_or_moderators_post_is_retried_after_the_platforms_wait() -> (
    None
):
    gateway = RecordingGateway(platform="replay")
    gateway.fail["post_in_venue"] = [RetryLaterError("rate limited", 12.5)]
    gateway.fail["alert_moderators"] = [RetryLaterError("busy", 4.0)]
    adapter = GatewayAdapter(gateway, _Listener())
    reminded = await adapter.remind_longform("replay:c", "venue-1", "Sum up?")
    posted = await adapter.post_to_moderators("replay:c", "Digest")
    assert (reminded.status, reminded.detail, reminded.retry_after) == (
        Status.FAILED, "rate limited", 12.5
    )  # fmt: skip
    assert (posted.status, posted.detail, posted.retry_after) == (Status.FAILED, "busy", 4.0)


async def test_a_downgrade_whose_alert_is_rate_limited_is_retried_with_the_platforms_reason() -> (
    None
):
    gateway = RecordingGateway(platform="replay")
    gateway.fail["set_slow_mode"] = [MissingPermissionError("Manage Channels", "set slow mode")]
    gateway.fail["alert_moderators"] = [RetryLaterError("moderators' channel busy", 7.0)]
    slow = SetSlowMode(HERE, "m1", NOW, Signal.ESCALATION, "heat", Evidence(("m1",)),
                       seconds=30, until=NOW + timedelta(minutes=20))  # fmt: skip
    result = await Pipeline(gateway).execute(slow, "key-s")
    assert (result.status, result.detail, result.retry_after) == (
        Status.FAILED, "moderators' channel busy", 7.0
    )  # fmt: skip


async def test_a_slow_mode_reports_the_place_it_slowed() -> None:
    gateway = RecordingGateway(platform="replay")
    slow = SetSlowMode(HERE, "m1", NOW, Signal.ESCALATION, "heat", Evidence(("m1",)),
                       seconds=30, until=NOW + timedelta(minutes=20))  # fmt: skip
    result = await Pipeline(gateway).execute(slow, "key-s")
    assert (result.status, result.reference) == (Status.SENT, "t1")  # the thread it slowed
    channel_wide = replace(slow, conversation=ConversationKey("replay:c", "general"))
    result = await Pipeline(gateway).execute(channel_wide, "key-t")
    assert result.reference == "general"


async def test_a_long_form_venue_invites_the_decisions_participants() -> None:
    gateway = RecordingGateway(platform="replay")
    space = OpenLongformSpace(HERE, "m1", NOW, Signal.ESCALATION, "r", Evidence(("m1",)),
                              title="Dosing", template=("Claim",), participants=("41", "42"),
                              key_messages=("m1",), text="Continue here.", requested_by="Dana")  # fmt: skip
    result = await Pipeline(gateway).execute(space, "key-v")
    assert result.status is Status.SENT
    (venue,) = gateway.called("open_venue")
    assert isinstance(venue, Venue)
    community = venue.origin.community
    assert venue.participants == (MemberRef(community, "41"), MemberRef(community, "42"))


async def test_the_steps_a_retry_finds_are_stored_under_their_names() -> None:
    # Stored step names are a format: a retry after an upgrade looks them up by name, and an
    # action whose step it cannot find is done twice (a second alert, a second notice).
    gateway = RecordingGateway(platform="replay")
    steps = MemorySteps()
    pipeline = Pipeline(gateway, steps)
    alert = AlertModerators(HERE, "m1", NOW, Signal.PILE_ON, "r", Evidence(("m1",)), text="Look")
    notice = PostNotice(HERE, "m2", NOW, Signal.PILE_ON, "r", Evidence(("m2",)), text="Slow down")
    await pipeline.execute(alert, "key-a")
    await pipeline.execute(notice, "key-n")
    assert [s.name for s in steps.kept["key-a"].done] == ["alert"]
    assert [s.name for s in steps.kept["key-n"].done] == ["notice"]
    await pipeline.execute(alert, "key-a")
    assert len(gateway.called("alert_moderators")) == 1


# -- the outcome report --------------------------------------------------------------------------


def test_the_markdown_outcome_report_heads_its_columns() -> None:
    import io

    from bot.runtime.outcome_report import write

    out = io.StringIO()
    write([], [], "markdown", out)
    head, rule = out.getvalue().splitlines()[:2]
    assert head == (
        "| signal | action | outcome | n sent | n control | sent | control | difference (95%) "
        "| reading |"
    )
    assert rule == "|" + "---|" * 9


def _experiment(store: Any, community: str, pairs: int) -> None:
    """``pairs`` notices sent and ``pairs`` held back in ``community``, each with an outcome."""
    from bot.core.outcomes import OutcomeRecord
    from bot.storage.audit import AuditEntry, Provenance
    from bot.storage.codec import decision_key
    from bot.storage.schema import Outcome

    live = Provenance("replay", "strict", "1", "live")
    place = ConversationKey(community, "general", "t1")
    for i in range(2 * pairs):
        notice = PostNotice(place, f"{community}-m{i}", NOW, Signal.ESCALATION, "r", Evidence(),
                            text="n")  # fmt: skip
        outcome = Outcome.SENT if i % 2 else Outcome.HELD_BACK
        store.audit.append(AuditEntry.of(notice, outcome, at=NOW, provenance=live,
                                         decision_key=decision_key(notice, "replay")))  # fmt: skip
        record = OutcomeRecord("post_notice", place, f"{community}-m{i}", Signal.ESCALATION, "t1",
                               "", NOW, NOW + timedelta(hours=1), (("cooled_15", float(i % 2)),))  # fmt: skip
        store.outcomes.add([record], "replay")


def test_the_outcomes_command_compares_only_the_chosen_communitys_outcomes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.storage.store import Store

    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[replay]\nenabled = true\n'
    )
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        _experiment(store, "replay:c", 30)
        _experiment(store, "replay:d", 20)
    counts = {}
    for community in ("replay:c", "replay:d", ""):
        args = ["outcomes", "--config", str(path), "--format", "jsonl", "--community", community]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        counts[community] = [(r["n_treated"], r["n_control"]) for r in rows
                             if r.get("type") == "comparison"]  # fmt: skip
    assert counts == {"replay:c": [(30, 30)], "replay:d": [(20, 20)], "": [(50, 50)]}


# -- the journal position --------------------------------------------------------------------------


async def test_a_snapshot_taken_right_after_a_tick_covers_the_tick(tmp_path: Path) -> None:
    service = build_service(service_config(tmp_path))
    runtime = service.runtime
    runtime.clock = lambda: NOW + timedelta(minutes=5)
    await runtime.open()
    try:
        await runtime.on_event(MessagePosted("p1", NOW, "replay:c", "general", "u1",
                                             "A plain remark about the dosing table."))  # fmt: skip
        await runtime.tick(NOW + timedelta(minutes=5))  # journal entry 2, the last one
        await runtime.save_memory()
        saved = runtime.store.states.load("engine:")
    finally:
        await runtime.close()
        runtime.store.close()
    assert saved is not None
    assert saved.blob["journal_seq"] == 2


async def test_a_journal_replayed_after_a_crash_is_logged_with_its_entries_and_actions(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    first = build_service(service_config(tmp_path)).runtime
    first.clock = lambda: NOW + timedelta(minutes=1)
    await first.open()
    for i in (1, 2, 3):
        await first.on_event(MessagePosted(f"p{i}", NOW + timedelta(seconds=i), "replay:c",
                                           "general", f"u{i}", f"A plain remark, part {i}."))  # fmt: skip
    first.store.close()  # a crash: no snapshot, the journal holds the three messages
    second = build_service(service_config(tmp_path)).runtime
    second.clock = lambda: NOW + timedelta(minutes=2)
    await second.open()
    await second.close()
    second.store.close()
    (replayed,) = [e for e in caplog_structlog if e["event"] == "journal_replayed"]
    assert (replayed["log_level"], replayed["entries"], replayed["actions"]) == ("info", 3, 0)


async def test_the_file_platform_takes_the_configured_action_delay_for_each_action(
    tmp_path: Path,
) -> None:
    import time

    from bot.storage.audit import Provenance

    config = service_config(tmp_path, replay={"action_delay_ms": 400})
    service = build_service(config)
    service.runtime.clock = lambda: NOW
    notice = PostNotice(HERE, "m1", NOW, Signal.PILE_ON, "r", Evidence(("m1",)), text="hi")
    try:
        service.runtime.store.outbox.enqueue(
            [notice], now=NOW, provenance=Provenance("replay", "strict", "v", "live")
        )
        started = time.monotonic()
        assert await service.executor.run_due() == 1
        took = time.monotonic() - started
    finally:
        service.runtime.store.close()
    assert len(actions(tmp_path)) == 1  # it was carried out
    assert took >= 0.4, f"the action took {took:.3f} s, less than the configured 400 ms"


class _TextScores:
    """The embedded scorer, except that it answers a text containing "BROKEN" with its scores as
    strings: the journal stores them (they read as floats), the engine cannot compare them."""

    name = "text-scores"

    def __init__(self) -> None:
        from bot.scoring.embedded import EmbeddedScorer

        self._inner = EmbeddedScorer()
        self.attributes = self._inner.attributes

    def score(self, texts: list[str]) -> list[dict[str, Any]]:
        found = self._inner.score(texts)
        return [{k: str(v) for k, v in s.items()} if "BROKEN" in text else s
                for text, s in zip(texts, found, strict=True)]  # fmt: skip


async def test_an_event_the_engine_fails_on_is_logged_with_its_kind_and_the_rest_are_judged(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.scorer = _TextScores()
    runtime.clock = lambda: NOW
    await runtime.open()
    try:
        for i, text in enumerate(("A plain remark.", "A BROKEN remark.", "A third remark.")):
            await runtime.on_event(MessagePosted(f"p{i}", NOW + timedelta(seconds=i), "replay:c",
                                                 "general", f"u{i}", text))  # fmt: skip
        judged = runtime.engines[""].size["messages"]
    finally:
        await runtime.close()
        runtime.store.close()
    (failed,) = [e for e in caplog_structlog if e["event"] == "event_failed"]
    assert (failed["log_level"], failed["kind"]) == ("error", "MessagePosted")
    assert judged >= 2, "the events after the failing one were not judged"
