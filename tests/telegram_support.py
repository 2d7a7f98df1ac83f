"""Running the real service with the Telegram adapter against the fake Bot API, for tests.

`serving` builds the service from a config (the real `build_service`, SQLite in tmp_path), starts it
with `Service.run`, waits until the adapter receives updates, and on exit lets the bot confirm what
was queued, stops the service and fails the test if PTB logged an ERROR or a handler raised.
`pile_on` replays the bundled clinicians' pile-on as Telegram members replying in a forum topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.telegram.app import TelegramAdapter
from adapters.telegram.options import TelegramOptions, Updates
from bot.config import Config
from bot.runtime.app import Service, build_service
from bot.storage.audit import AuditEntry
from bot.storage.schema import OutboxRow, OutboxState
from bot.storage.store import Store
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.telegram_world import FakeUser

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo" / "01_pile_on_clinician.jsonl"
FORUM, PLAIN, MODS = -1001000000001, -1001000000002, -1001000000009
MOD = FakeUser(900, "Mo", username="mo_admin")
_names = ["dr_amara", "nurse_priya", "dr_okafor", "dr_hallorann", "ems_jordan", "dr_vasquez",
          "dr_sato", "pharm_tobias", "hospitalist_greer", "dr_b_nakamura", "rn_delacroix",
          "dr_fenwick"]  # fmt: skip
USERS = {
    name: FakeUser(2000 + i, name.split("_")[-1].title(), username=name)
    for i, name in enumerate(_names)
}
AMARA = USERS["dr_amara"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (for the bot's webhook server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def options(updates: Updates = "polling", **more: Any) -> TelegramOptions:
    """Adapter options for tests: short long polls; a local webhook when asked for."""
    if updates == "webhook":
        port = free_port()
        more |= {"webhook_port": port, "webhook_url": f"http://127.0.0.1:{port}/telegram",
                 "webhook_secret": "s3cret-token"}  # fmt: skip
    return TelegramOptions(updates=updates, poll_timeout=1, request_timeout=5.0, **more)


def config(
    tmp_path: Path, server: FakeTelegramServer, *communities: dict[str, Any], **sections: Any
) -> Config:
    """A live config with the strict policy, the fake server as Telegram, and `communities`."""
    raw: dict[str, Any] = {
        "policy": "strict", "mode": "live",
        "storage": {"url": f"sqlite:///{tmp_path / 'longform.db'}"},
        "scheduler": {"tick_seconds": 3600, "snapshot_seconds": 3600},
        "outbox": {"retry_seconds": 0.05},
        "scoring": {"sentence_tier": "off"},  # the adapter is under test, not the judgement
        "telegram": {"enabled": True, "api_url": server.base_url},
        "communities": list(communities) or [community(FORUM)],
    }  # fmt: skip
    return Config.model_validate(raw | sections)


def community(chat_id: int, **more: str) -> dict[str, Any]:
    """A `[[communities]]` entry for a Telegram group whose moderators read MODS."""
    return {"platform": "telegram", "id": str(chat_id), "moderators": str(MODS), **more}


@dataclass
class Served:
    """A running service and what the test needs of it."""

    service: Service
    adapter: TelegramAdapter
    server: FakeTelegramServer
    error_logs: list[logging.LogRecord] = field(default_factory=list)

    def audit(self, kind: str | None = None) -> list[AuditEntry]:
        """The audit lines so far (of one decision kind)."""
        entries = self.service.runtime.store.audit.entries()
        return [e for e in entries if kind is None or e.kind == kind]

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the bot handled every queued update, the runtime judged them, and the
        outbox has nothing left to do (retries included)."""
        adapter, server, runtime = self.adapter, self.server, self.service.runtime
        await server.wait_for(lambda: adapter.updates_handled >= server.updates_queued, timeout)
        await runtime.settle()
        await server.wait_for(lambda: _unfinished(runtime.store) == 0, timeout)


def _unfinished(store: Store) -> int:
    """Outbox items still pending or being executed."""
    open_states = (OutboxState.PENDING, OutboxState.IN_FLIGHT)
    with Session(store.engine) as session:
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.state.in_(open_states))
        return int(session.scalar(query) or 0)


class _Errors(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.asynccontextmanager
async def serving(server: FakeTelegramServer, cfg: Config, opts: TelegramOptions | None = None,
                  token: str | None = None) -> AsyncIterator[Served]:  # fmt: skip
    """The service running with the Telegram adapter until the block ends."""
    adapter = TelegramAdapter(cfg, token or server.token, opts or options())
    environ = {"LONGFORM_TELEGRAM_TOKEN": token or server.token}
    service = build_service(cfg, environ=environ, factories={"telegram": lambda *_: adapter})
    served = Served(service, adapter, server)
    logger = logging.getLogger("telegram")
    handler = _Errors(served.error_logs)
    logger.addHandler(handler)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    try:
        await server.wait_for(lambda: running.done() or adapter.started)
        if running.done():
            await running  # raises the start-up error
        yield served
        try:  # a test that queued an update the bot never took has not tested what it says
            await server.wait_until_delivered(timeout=10)
        except AssertionError as error:
            raise AssertionError(
                f"the bot never confirmed every update the test queued: {error}"
            ) from None
    finally:
        stop.set()
        await asyncio.wait([running])
        logger.removeHandler(handler)
    await running
    problems = [repr(e) for e in adapter.handler_errors]
    problems += [f"{r.name}: {r.getMessage()}" for r in served.error_logs]
    assert not problems, "python-telegram-bot reported errors: " + "; ".join(problems)


def setup_forum(server: FakeTelegramServer) -> int:
    """The clinicians' forum (MOD owns it), the moderators' chat, and a topic; returns its id."""
    server.add_group(FORUM, "Clinicians", forum=True, owner=MOD, members=list(USERS.values()))
    server.add_group(MODS, "Moderators", owner=MOD)
    return server.add_topic(FORUM, "Antibiotics for viral coughs", by=AMARA).message_thread_id


def pile_on(server: FakeTelegramServer, chat_id: int, thread: int | None) -> dict[str, int]:
    """Replay the demo pile-on (messages only) in `chat_id`; returns demo id -> message id."""
    ids: dict[str, int] = {}
    for line in DEMO.read_text().splitlines():
        record = json.loads(line)
        if record["type"] != "message":
            continue
        replied = ids.get(record.get("reply_to", ""))
        sent = server.user_sends(chat_id, USERS[record["author"]], record["text"],
                                 reply_to=replied, thread_id=None if replied else thread)  # fmt: skip
        ids[record["id"]] = sent["message_id"]
    return ids
