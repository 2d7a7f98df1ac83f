"""Runtime contracts found unchecked by mutation testing (issue 18, seed 39): a moderator's
acknowledgement through the control seam stored for its platform, the references a downgraded
prompt and an asked-for slow mode hand back, a lift's own wording, a consent offer's button and a
venue's names looked up in its own community, the digest command's exit status, a reminder
skipped for a platform that is not running, the outcome report's empty line and table rows, the
service run off the main thread, a never-set lift's audit detail, decisions counted by kind and
signal, a refusing database server and a config with no platform named, and the scoring
histogram's help text."""

from __future__ import annotations

import asyncio
import io
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.decisions import (
    AlertModerators,
    Decisions,
    Evidence,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptKind,
    PromptMember,
    SetSlowMode,
    Signal,
)
from bot.core.events import ConversationKey
from bot.core.settings import LongformSettings, Settings
from bot.runtime import jobs
from bot.runtime.app import StartupError, build_service
from bot.runtime.checks import check
from bot.runtime.control import Control
from bot.runtime.gateway import Action, ActionKind, CommunityRef, Notice, Place
from bot.runtime.outcome_report import Comparison, summary_line, write
from bot.runtime.pipeline import MemorySteps, Pipeline
from bot.runtime.platform import Status
from bot.storage import Outcome
from bot.storage.audit import AuditEntry
from bot.storage.codec import decision_key
from bot.storage.schema import InterventionOutcomeRow
from tests.builders import MIN, T0
from tests.gateway_support import RecordingGateway
from tests.runtime_support import service_config
from tests.test_storage import LIVE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HERE = ConversationKey("test:c1", "room", "thread")
WHY = Evidence(("m1", "m2"))


@dataclass
class _NamingGateway(RecordingGateway):
    """A recording gateway that also keeps the community each name lookup was asked in."""

    asked_in: list[CommunityRef] = field(default_factory=list)

    async def resolve_names(
        self, community: CommunityRef, ids: tuple[str, ...]
    ) -> Mapping[str, str]:
        self.asked_in.append(community)
        return await super().resolve_names(community, ids)


def _slow() -> SetSlowMode:
    return SetSlowMode(HERE, "m2", T0, Signal.PILE_ON, "heated", WHY, seconds=60, until=T0 + MIN)


def _space(requested_by: str = "") -> OpenLongformSpace:
    return OpenLongformSpace(HERE, "m2", T0, Signal.ESCALATION, "r", WHY, title="Long form 123",
                             template=("Claim",), participants=("ana",), key_messages=("m1",),
                             text="More room.", requested_by=requested_by)  # fmt: skip


# -- the control seam ------------------------------------------------------------------------------


async def test_an_acknowledgement_through_the_control_seam_is_timed_and_kept_for_its_platform(
    tmp_path: Path,
) -> None:
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.clock = lambda: NOW + timedelta(minutes=6)
    await runtime.open()
    try:
        alert = AlertModerators(ConversationKey("replay:c", "general", "t1"), "m1", NOW,
                                Signal.PILE_ON, "r", Evidence(), text="Look")  # fmt: skip
        key = decision_key(alert, "replay")
        sent = AuditEntry.of(alert, Outcome.SENT, at=NOW, provenance=LIVE, decision_key=key)
        runtime.store.audit.append(sent)
        await Control(runtime).acknowledge("replay", key)
        (found,) = runtime.store.outcomes.alerts("replay:c")
        with runtime.store.engine.connect() as connection:
            platforms = connection.scalars(select(InterventionOutcomeRow.platform)).all()
    finally:
        await runtime.close()
        runtime.store.close()
    assert found.minutes_to_ack == 6.0
    assert platforms == ["replay"]


# -- the pipeline's results ------------------------------------------------------------------------


async def test_a_prompt_downgraded_to_a_public_note_hands_back_the_notes_reference() -> None:
    gateway = RecordingGateway(unreachable=True)
    prompt = PromptMember(HERE, "m2", T0, Signal.PILE_ON, "r", WHY, member="ana",
                          kind=PromptKind.PILE_ON_TARGET, text="Take your time.")  # fmt: skip
    result = await Pipeline(gateway).execute(prompt, "k1")
    assert result.status is Status.DOWNGRADED
    # The note is what was created, so an undo or a link finds it by this reference.
    assert result.reference == "post_notice-1"


async def test_a_slow_mode_only_asked_of_the_moderators_hands_back_its_place() -> None:
    gateway = RecordingGateway(asks_moderators=True)
    result = await Pipeline(gateway).execute(_slow(), decision_key(_slow(), "test"))
    assert result.status is Status.DOWNGRADED
    assert result.reference == Place.of(HERE).id


async def test_a_lift_without_words_from_the_platform_says_the_slow_mode_was_lifted() -> None:
    gateway, steps = RecordingGateway(), MemorySteps()
    pipeline = Pipeline(gateway, steps)
    await pipeline.execute(_slow(), decision_key(_slow(), "test"))
    lift = LiftSlowMode(HERE, "m2", T0 + MIN, Signal.PILE_ON, "cooled", WHY)
    result = await pipeline.execute(lift, "k2")
    assert (result.status, result.detail) == (Status.SENT, "slow mode lifted")


async def test_a_consent_offers_button_carries_the_decisions_key() -> None:
    gateway = RecordingGateway()
    consent = Settings(longform=LongformSettings(ask_consent=True))
    result = await Pipeline(gateway, settings_of=lambda c, ch: consent).execute(_space(), "k3")
    (offer,) = gateway.called("post_notice")
    assert isinstance(offer, Notice)
    assert offer.actions == (Action(ActionKind.CONSENT, "k3"),)
    assert result.status is Status.SENT
    assert gateway.called("open_venue") == []


async def test_a_venues_title_and_intro_are_named_in_the_venues_own_community() -> None:
    gateway = _NamingGateway(names={"123": "Ana"})
    await Pipeline(gateway).execute(_space(requested_by="ana"), "k4")
    (venue,) = gateway.called("open_venue")
    assert getattr(venue, "title", None) == "Long form Ana"
    assert gateway.asked_in
    assert set(gateway.asked_in) == {Place.of(HERE).community}


# -- commands and jobs -----------------------------------------------------------------------------


def test_the_digest_command_with_a_database_it_cannot_open_says_why_and_exits_2(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = tmp_path / "config.toml"
    path.write_text('[storage]\nurl = "://nowhere"\n[replay]\nenabled = true\n')
    result = CliRunner().invoke(app, ["digest", "--config", str(path)], env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert "not a URL" in result.output


async def test_a_reminder_for_a_platform_that_is_not_running_is_logged_as_skipped(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    runtime = build_service(service_config(tmp_path)).runtime
    await runtime.open()
    jobs.bind(runtime)
    try:
        await jobs.remind_longform("discord:1", "venue-1", 3.0)
    finally:
        jobs.bind(None)
        await runtime.close()
        runtime.store.close()
    skipped = [e for e in caplog_structlog if e.get("event") == "reminder_skipped"]
    assert [(e["community"], e["problem"]) for e in skipped] == [
        ("discord:1", "platform not running")
    ]


# -- the outcome report ----------------------------------------------------------------------------


def test_the_digests_outcome_line_with_nothing_measured_says_so() -> None:
    assert summary_line([]) == "Outcomes: none measured yet."


def test_every_row_of_the_markdown_outcome_table_is_closed_by_its_bar() -> None:
    comparison = Comparison("pile_on", "post_notice", "cooled_15", "rate", 30, 30, 0.5, 0.3,
                            0.2, 0.05, 0.35, "Newcombe (Wilson)", "helps")  # fmt: skip
    out = io.StringIO()
    write([comparison], [], "markdown", out)
    rows = [line for line in out.getvalue().splitlines() if line.startswith("| pile_on")]
    assert len(rows) == 1
    assert rows[0].endswith(" | helps |")


def test_a_service_run_off_the_main_thread_starts_and_stops_without_signal_handlers(
    tmp_path: Path,
) -> None:
    # An embedding program (or a test harness) may run the service in a worker thread, where
    # the event loop cannot take signal handlers: the service must serve anyway.
    service = build_service(service_config(tmp_path))
    problems: list[BaseException] = []

    async def serve_and_stop() -> None:
        stop = asyncio.Event()
        stop.set()  # stop as soon as it is serving
        await service.run(stop)

    def in_a_thread() -> None:
        try:
            asyncio.run(serve_and_stop())
        except BaseException as error:  # handed to the test's thread to assert on
            problems.append(error)

    worker = threading.Thread(target=in_a_thread, name="embedded-service")
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the service in a worker thread did not stop within 60 s"
    assert problems == []


# -- the executor and the runtime's routing ---------------------------------------------------------


async def test_a_lift_of_a_slow_mode_never_set_says_why_in_the_audit(
    tmp_path: Path,
) -> None:
    service = build_service(service_config(tmp_path))
    runtime = service.runtime
    runtime.clock = lambda: NOW
    lift = LiftSlowMode(ConversationKey("replay:c", "general", "t1"), "m1", NOW, Signal.PILE_ON,
                        "cooled", Evidence(("m1",)))  # fmt: skip
    try:
        (key,) = runtime.store.outbox.enqueue([lift], now=NOW, provenance=LIVE)
        assert await service.executor.run_due() == 1
        entries = runtime.store.audit.entries(decision_key=key)
    finally:
        runtime.store.close()
    # The last line is the attempt's: it says why nothing was lifted.
    assert entries[-1].detail == "the slow mode was never set (it expired first)"


async def test_decisions_are_counted_by_their_kind_and_signal(tmp_path: Path) -> None:
    runtime = build_service(service_config(tmp_path)).runtime
    runtime.clock = lambda: NOW
    await runtime.open()
    notice = PostNotice(ConversationKey("replay:c", "general"), "m1", NOW, Signal.ESCALATION,
                        "heating up", Evidence(("m1",)), text="Slower?")  # fmt: skip
    try:
        await runtime.submit(Decisions(actions=(notice,)), "")
        counted = runtime.metrics.registry.get_sample_value(
            "longform_decisions_total", {"kind": "post_notice", "signal": "escalation"}
        )
    finally:
        await runtime.close()
        runtime.store.close()
    assert counted == 1


def test_the_scoring_histogram_says_what_it_times() -> None:
    from prometheus_client import generate_latest

    from bot.runtime.metrics import Metrics

    served = generate_latest(Metrics().registry).decode()
    assert "# HELP longform_scoring_seconds Time to score one batch\n" in served


def test_a_service_whose_database_server_refuses_does_not_start_and_says_why(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 1: the check passes (a server URL), opening the store fails.
    url = "postgresql+psycopg://nobody@127.0.0.1:1/longform"
    config = service_config(tmp_path, storage={"url": url})
    with pytest.raises(
        StartupError, match=re.escape(f"cannot open the database {url}: connection failed")
    ):
        build_service(config)


def test_a_config_with_no_platform_is_told_how_to_enable_one_and_about_tokens(
    tmp_path: Path,
) -> None:
    config = service_config(tmp_path, replay={"enabled": False})
    assert check(config, environ={}).problems == [
        "no platform is enabled: set enabled = true in [discord], [telegram], [matrix] or [replay] "
        "(Discord, Telegram and Matrix also need their token's environment variable)"
    ]
