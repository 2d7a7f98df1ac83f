"""What the runtime does after and around an action, on the real service with a recording
platform: a slow mode's lift and a long-form space's reminder are scheduled with the reference the
platform returned; the reminder job reaches the right community; the digest says what could not
be done and what moderators marked wrong; the operator's log names recoveries and cut messages;
a journal replayed after a crash does not announce its detections twice.

Mutation testing (issue 18) found each of these unchecked by the runtime tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.decisions import Evidence, OpenLongformSpace, PostNotice, SetSlowMode, Signal
from bot.core.events import ConversationKey, MessagePosted
from bot.runtime import jobs
from bot.runtime.app import Service, build_service
from bot.runtime.digest import digest_text
from bot.runtime.platform import ActionResult
from bot.runtime.service import MAX_TEXT
from bot.storage.audit import AuditEntry, Provenance
from bot.storage.schema import Outcome
from tests.runtime_support import service_config

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HERE = ConversationKey("replay:c", "general", "t1")
LIVE = Provenance("replay", "strict", "v1", "live")


class _Platform:
    """Records every call, and answers each action with the reference ``post-7``."""

    platform = "replay"

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def start(self, sink: object, control: object) -> None: ...
    async def stop(self) -> None: ...

    async def execute(self, decision: object, key: str) -> ActionResult:
        self.calls.append(("execute", type(decision).__name__))
        return ActionResult.sent(reference="post-7")

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        self.calls.append(("moderators", community))
        return ActionResult.sent()

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        self.calls.append(("remind", community, reference, text))
        return ActionResult.sent()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    config = service_config(tmp_path)
    built = build_service(config, extra_adapters={"replay": _Platform()})  # type: ignore[dict-item]
    built.runtime.clock = lambda: NOW
    await built.runtime.open()
    jobs.bind(built.runtime)
    yield built
    jobs.bind(None)
    await built.runtime.close()
    built.runtime.store.close()


def _space() -> OpenLongformSpace:
    return OpenLongformSpace(HERE, "m1", NOW, Signal.LONG_EXCHANGE, "long exchange",
                             Evidence(("m1",)), title="Long form: t1", template=("claim",),
                             participants=("ana", "bo"), key_messages=("m1",), text="Room.")  # fmt: skip


def _slow() -> SetSlowMode:
    return SetSlowMode(HERE, "m2", NOW, Signal.PILE_ON, "many replies", Evidence(("m2",)),
                       seconds=60, until=NOW + timedelta(minutes=20))  # fmt: skip


async def test_follow_ups_are_scheduled_with_the_platforms_reference(service: Service) -> None:
    lifts: list[tuple[object, str | None]] = []
    reminders: list[tuple[object, str | None]] = []
    service.executor.schedule_lift = lambda decision, ref: lifts.append((decision, ref))
    service.executor.schedule_reminder = lambda decision, ref: reminders.append((decision, ref))
    service.runtime.store.outbox.enqueue([_space(), _slow()], now=NOW, provenance=LIVE)
    await service.executor.run_due()
    assert reminders == [(_space(), "post-7")]
    assert lifts == [(_slow(), "post-7")]


async def test_the_reminder_job_reaches_the_spaces_community_and_reference(
    service: Service,
) -> None:
    await jobs.remind_longform("replay:c", "post-7", 3)
    platform: Any = service.runtime.adapters["replay"]
    ((what, community, reference, text),) = platform.calls
    assert (what, community, reference) == ("remind", "replay:c", "post-7")
    assert "open for 3 days" in text


def test_the_digest_says_what_could_not_be_done_and_what_was_marked_wrong() -> None:
    notice = PostNotice(HERE, "m1", NOW, Signal.PILE_ON, "r", Evidence(("m1",)), text="t")
    entries = [AuditEntry.of(notice, outcome, at=NOW, provenance=LIVE)
               for outcome in (Outcome.DECIDED, Outcome.FAILED)]  # fmt: skip
    text = digest_text("Ward", entries, {"pile_on": (1, 2), "ad_hominem": (3, 0)})
    assert "Could not do (see the audit log): post notice 1" in text
    assert "Marked wrong by moderators so far: pile on 2" in text
    assert "ad hominem" not in text  # never marked wrong: not listed
    assert "Done:" not in text
    only_done = [AuditEntry.of(notice, Outcome.SENT, at=NOW, provenance=LIVE)]
    assert "Noticed: nothing" in digest_text("Ward", only_done, {})


async def test_a_restart_logs_what_the_outbox_recovered(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    first = build_service(service_config(tmp_path))
    first.runtime.store.outbox.enqueue([_space()], now=NOW, provenance=LIVE)
    first.runtime.store.outbox.claim_due(NOW)  # in flight when the process died
    first.runtime.store.close()
    second = build_service(service_config(tmp_path))
    second.runtime.clock = lambda: NOW + timedelta(minutes=1)
    await second.runtime.open()
    try:
        recovered = [e for e in caplog_structlog if e["event"] == "outbox_recovered"]
        assert [(e["requeued"], e["expired"]) for e in recovered] == [(1, 0)]
    finally:
        await second.runtime.close()
        second.runtime.store.close()


async def test_a_message_too_long_is_cut_and_the_cut_is_logged_without_its_text(
    service: Service, caplog_structlog: list[dict[str, Any]]
) -> None:
    long = MessagePosted("m9", NOW, "replay:c", "general", "ana", "word " * (MAX_TEXT // 4))
    await service.runtime.on_event(long)
    (cut,) = [e for e in caplog_structlog if e["event"] == "message_cut"]
    assert (cut["message"], cut["length"], cut["kept"]) == ("m9", len(long.text), MAX_TEXT)
    assert "word" not in str(cut)
    (row,) = service.runtime.store.journal.since(0)
    assert len(getattr(row.entry, "text", "")) == MAX_TEXT


async def test_a_journal_replayed_after_a_crash_does_not_announce_detections_again(
    tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    first = build_service(service_config(tmp_path))
    first.runtime.clock = lambda: NOW
    await first.runtime.open()
    await first.runtime.on_event(MessagePosted("d1", NOW, "replay:c", "general", "bo",
                                               "you are an idiot", reply_to_author="ana"))  # fmt: skip
    detected = [e for e in caplog_structlog if e["event"] == "detected"]
    assert detected, "the attack was not detected"
    first.runtime.store.close()  # a crash: no snapshot saved, the journal holds the message
    caplog_structlog.clear()
    second = build_service(service_config(tmp_path))
    second.runtime.clock = lambda: NOW + timedelta(minutes=1)
    await second.runtime.open()
    try:
        assert [e for e in caplog_structlog if e["event"] == "journal_replayed"]
        assert [e for e in caplog_structlog if e["event"] == "detected"] == []
        assert second.runtime.engines[""].size["messages"] == 1
    finally:
        await second.runtime.close()
        second.runtime.store.close()


async def test_with_no_retention_messages_are_logged_without_their_text(tmp_path: Path) -> None:
    service = build_service(service_config(tmp_path, storage={"retention_days": 0}))
    service.runtime.clock = lambda: NOW
    await service.runtime.open()
    try:
        posted = MessagePosted("m5", NOW, "replay:c", "general", "bo", "private words",
                               thread="t9", reply_to="m4", reply_to_author="ana")  # fmt: skip
        await service.runtime.on_event(posted)
        logged = service.runtime.store.messages.get("replay", "m5")
        assert logged is not None
        assert not logged.text
        assert (logged.conversation.thread, logged.reply_to, logged.reply_to_author) == (
            "t9", "m4", "ana"
        )  # fmt: skip
    finally:
        await service.runtime.close()
        service.runtime.store.close()


def test_the_feedback_report_has_a_community_column(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.storage.schema import Verdict
    from bot.storage.store import Store
    from tests.test_service_cli import _config

    config = _config(tmp_path)
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        store.feedback.add("discord", "pile_on", Verdict.WRONG, by="mod", at=NOW,
                           message_id="m1", community="discord:1")  # fmt: skip
    report = CliRunner().invoke(app, ["evaluate", "--feedback", "--config", str(config)])
    assert report.exit_code == 0, report.output
    header = next(line for line in report.stdout.splitlines() if "signal" in line)
    assert header.index("community") < header.index("signal")
    assert "all communities" in report.stdout
