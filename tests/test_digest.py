"""The moderators' digest: detections counted once, actions apart, every community, on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from typer.testing import CliRunner

from bot.cli import app
from bot.core.decisions import (
    AlertModerators,
    Decision,
    Evidence,
    OpenLongformSpace,
    PostNotice,
    SetSlowMode,
    Signal,
)
from bot.core.events import ConversationKey
from bot.runtime import jobs
from bot.runtime.app import Service, build_service
from bot.runtime.digest import digest_text
from bot.runtime.platform import ActionResult
from bot.storage.audit import AuditEntry, Provenance
from bot.storage.schema import Outcome
from bot.storage.store import Store
from tests.runtime_support import service_config

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
runner = CliRunner()
_PROVENANCE = Provenance("replay", "strict", "v1", "live")


def _escalation(community: str, message_id: str = "m1") -> list[Decision]:
    """What one escalation decides: four actions on one message."""
    base = (ConversationKey(community, "general", "t1"), message_id, NOW - timedelta(hours=2),
            Signal.ESCALATION, "heat", Evidence((message_id,)))  # fmt: skip
    return [
        PostNotice(*base, text="This thread is heating up."),
        SetSlowMode(*base, seconds=60, until=NOW - timedelta(hours=1)),
        OpenLongformSpace(
            *base,
            title="Long form: t1",
            template=("My claim",),
            participants=("ana",),
            key_messages=(message_id,),
            text="Room.",
        ),
        AlertModerators(*base, text="Escalation in t1"),
    ]


def _audited(decisions: list[Decision], *outcomes: Outcome) -> list[AuditEntry]:
    return [AuditEntry.of(d, outcome, at=NOW - timedelta(hours=2), provenance=_PROVENANCE)
            for d in decisions for outcome in outcomes]  # fmt: skip


def test_one_escalation_is_noticed_once_and_its_actions_counted_apart() -> None:
    entries = _audited(_escalation("replay:c"), Outcome.DECIDED, Outcome.SENT)
    text = digest_text("Ward", entries, {})
    assert "Noticed: escalation 1\n" in text  # not 4 (actions) nor 8 (audit lines)
    assert "Actions decided: " in text
    for kind in ("post notice 1", "set slow mode 1", "open longform space 1", "alert moderators 1"):
        assert kind in text
    assert "Busiest places: #t1 (1)" in text


def test_shadow_mode_counts_the_detection_once_too() -> None:
    decisions = _escalation("replay:c")
    entries = _audited(decisions[:3], Outcome.SUPPRESSED_SHADOW)
    entries += _audited(decisions[3:], Outcome.DECIDED, Outcome.SENT)
    text = digest_text("Ward", entries, {})
    assert "Noticed: escalation 1\n" in text
    assert "Shadow mode, would have done: " in text


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "longform.db"}"\n[replay]\nenabled = true\n'
        '[[communities]]\nplatform = "replay"\nid = "c"\nmoderators = "mods"\nname = "Ward"\n'
    )
    return path


def _store_with_two_communities(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'longform.db'}") as store:
        for entry in _audited(_escalation("replay:c"), Outcome.DECIDED):
            store.audit.append(entry)
        for entry in _audited(_escalation("replay:unlisted", "m2"), Outcome.DECIDED):
            store.audit.append(entry)


def test_digest_command_prints_every_community_listed_or_not(tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    _store_with_two_communities(tmp_path)
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(app, ["digest", "--config", str(config)])
        only = runner.invoke(app, ["digest", "--config", str(config), "--community",
                                   "replay:unlisted"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Longform daily digest for Ward (last 24 hours)" in result.stdout
    assert "Longform daily digest for replay:unlisted (last 24 hours)" in result.stdout
    assert result.stdout.count("Noticed: escalation 1") == 2
    assert only.exit_code == 0, only.output
    assert "Ward" not in only.stdout
    assert "replay:unlisted" in only.stdout


def test_digest_send_queues_a_job_for_the_running_service(tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    _store_with_two_communities(tmp_path)
    result = runner.invoke(app, ["digest", "--config", str(config), "--send",
                                 "--community", "replay:c"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "queued" in result.stdout
    with Store.open(f"sqlite:///{tmp_path / 'longform.db'}") as store:
        jobstore = SQLAlchemyJobStore(engine=store.engine, tablename="longform_jobs")
        (job,) = jobstore.get_all_jobs()
        assert job.func_ref == "bot.runtime.jobs:digest"
        assert job.args == ("replay:c",)


class _Moderators:
    """A platform that records the digests it is asked to post."""

    platform = "replay"

    def __init__(self) -> None:
        self.digests: list[tuple[str, str]] = []

    async def start(self, sink: object, control: object) -> None: ...
    async def stop(self) -> None: ...

    async def execute(self, decision: object, key: str) -> ActionResult:
        return ActionResult.sent()

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        self.digests.append((community, text))
        return ActionResult.sent()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    communities = [{"platform": "replay", "id": "c", "moderators": "mods", "name": "Ward"}]
    built = build_service(service_config(tmp_path, communities=communities),
                          extra_adapters={"replay": _Moderators()})  # type: ignore[dict-item]  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        await built.runtime.open()
    jobs.bind(built.runtime)
    yield built
    jobs.bind(None)
    await built.runtime.close()


async def test_the_daily_job_sends_unlisted_communities_a_digest_too(service: Service) -> None:
    runtime = service.runtime
    for entry in _audited(_escalation("replay:c"), Outcome.DECIDED):
        runtime.store.audit.append(entry)
    for entry in _audited(_escalation("replay:unlisted", "m2"), Outcome.DECIDED):
        runtime.store.audit.append(entry)
    with time_machine.travel(NOW, tick=False):
        await jobs.digest()
        await jobs.digest("replay:c")  # what `longform digest --send --community` queues
    sent = runtime.adapters["replay"].digests  # type: ignore[attr-defined]
    assert [community for community, _ in sent] == ["replay:c", "replay:unlisted", "replay:c"]
    assert all("Noticed: escalation 1" in text for _, text in sent)


async def test_a_community_whose_platform_is_not_running_does_not_stop_the_others(
    service: Service,
) -> None:
    runtime = service.runtime
    for entry in _audited(_escalation("telegram:9"), Outcome.DECIDED):  # no Telegram adapter here
        runtime.store.audit.append(entry)
    for entry in _audited(_escalation("replay:unlisted", "m2"), Outcome.DECIDED):
        runtime.store.audit.append(entry)
    with time_machine.travel(NOW, tick=False):
        await jobs.digest()
    sent = runtime.adapters["replay"].digests  # type: ignore[attr-defined]
    assert [community for community, _ in sent] == ["replay:c", "replay:unlisted"]
