"""Helpers for Discord adapter tests: a test policy, a config pointing at the fake, more members,
the whole service running against the fake, and a pile-on to feed it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.discord.app import DiscordAdapter
from bot.config import Config
from bot.runtime.app import Service, build_service
from tests.fakes.discord_server import FakeDiscordServer, Ids
from tests.fakes.discord_state import FakeRole, FakeUser

EVE = 1300000000000000505
FINN = 1300000000000000506
OWNER = 1300000000000000507  # has Manage Server
ADMINS = 1300000000000000203
MANAGE_GUILD = 1 << 5
MANAGE_CHANNELS = 1 << 4
MANAGE_THREADS = 1 << 34

POLICY = """
schema_version = 1
name = "discord-test"
mode = "live"

[ad_hominem]
detect_at = 1.0
levels = []

[escalation]
detect_at = 1.0

[long_exchange]
enabled = false

[pile_on]
min_authors = 3
detect_at = 0.4
levels = [
  { at = 0.4, actions = ["notice", "private_prompt", "alert_moderators"] },
  { at = 0.65, actions = ["notice", "private_prompt", "slow_mode", "open_longform",
                          "alert_moderators"] },
]

[slow_mode]
seconds = 120
minutes = 30

[longform]
tags = ["discussion", "no-such-tag"]
slow_mode_seconds = 600
ask_consent = {consent}
"""

PILE_ON = (
    "Did you even finish residency? Nobody competent calls anything clearly viral without a swab.",
    "People like you are why patients don't trust doctors. They come in sick and leave with a "
    "leaflet.",
    "Typical GP, no idea what walks into ED two days later.",
)
CLAIM = (
    "Slightly unpopular view: for clearly viral URTIs in well adults I give no antibiotics, with "
    "proper safety-netting."
)


def add_members(server: FakeDiscordServer) -> None:
    """Eve and Finn (members) and Owner (Manage Server), before the client connects."""
    world = server.world
    everyone = world.roles[Ids.EVERYONE].permissions
    world.roles[ADMINS] = FakeRole(ADMINS, "Admins", everyone | MANAGE_GUILD, position=3)
    for user in (FakeUser(EVE, "eve"), FakeUser(FINN, "finn"),
                 FakeUser(OWNER, "owner", roles=[ADMINS])):  # fmt: skip
        world.users[user.id] = user


def remove_bot_permission(server: FakeDiscordServer, bit: int) -> None:
    """Take a permission from the bot's role (before the client connects)."""
    server.world.roles[Ids.BOT_ROLE].permissions &= ~bit


def discord_config(
    tmp_path: Path, server: FakeDiscordServer, *, consent: bool = False, **extra: Any
) -> Config:
    """A live config serving the fake's guild with the test policy."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.replace("{consent}", "true" if consent else "false"))
    raw: dict[str, Any] = {
        "policy": str(policy),
        "mode": "live",
        "storage": {"url": f"sqlite:///{tmp_path / 'longform.db'}"},
        "scheduler": {"tick_seconds": 3600, "snapshot_seconds": 3600},
        "scoring": {"sentence_tier": "off"},  # the adapter is under test, not the judgement
        "discord": {"enabled": True, "api_url": server.base_url},
        "communities": [
            {"platform": "discord", "id": str(Ids.GUILD), "moderators": str(Ids.MOD_ALERTS),
             "longform_space": str(Ids.FORUM), "name": "Clinicians Commons"},
        ],
    } | extra  # fmt: skip
    return Config.model_validate(raw)


@dataclass
class Running:
    """The service running against the fake."""

    server: FakeDiscordServer
    service: Service
    adapter: DiscordAdapter

    @property
    def store(self) -> Any:
        return self.service.runtime.store

    async def settle(self, timeout: float = 5.0) -> None:
        """Until every event is judged and every decision is done (a pending retry counts as
        done when it falls due later than ``timeout``)."""
        runtime = self.service.runtime
        await runtime.settle()

        def busy() -> bool:
            keys = {e.decision_key for e in self.store.audit.entries() if e.decision_key}
            items = [self.store.outbox.get(key) for key in keys]
            horizon = runtime.clock() + timedelta(seconds=timeout)
            return any(
                item is not None
                and (
                    item.state == "in_flight"
                    or (item.state == "pending" and item.next_attempt_at < horizon)
                )
                for item in items
            )

        await self.server.wait_for(lambda: not busy(), timeout)


def build(config: Config, server: FakeDiscordServer, rest_timeout: float = 2.0) -> Service:
    """The service for ``config``, its Discord adapter tuned for tests (fast guild ready)."""

    def factory(_platform: str, cfg: Config, token: str) -> DiscordAdapter:
        return DiscordAdapter(cfg, token, guild_ready_timeout=0.01, rest_timeout=rest_timeout)

    environ = {"LONGFORM_DISCORD_TOKEN": server.token}
    return build_service(config, environ=environ, factories={"discord": factory})


@contextlib.asynccontextmanager
async def running(service: Service, server: FakeDiscordServer) -> AsyncIterator[Running]:
    """Run ``service`` until the block ends; wait until Discord is connected and commands are in."""
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop), name="longform-service")
    adapter = service.runtime.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    try:
        await server.wait_for(lambda: task.done() or adapter.started, timeout=10)
        if task.done():
            task.result()
        await server.wait_for(lambda: server.requests_to("PUT", "/applications/*/commands"))
        yield Running(server, service, adapter)
    finally:
        stop.set()
        await task


async def pile_on(server: FakeDiscordServer, thread: int | None = Ids.THREAD) -> list[int]:
    """Ana makes a claim in the thread; Ben, Eve and Finn pile on. Returns the message ids."""
    claim = await server.send_message(Ids.GENERAL, Ids.ANA, CLAIM, thread=thread)
    ids = [int(claim["id"])]
    for author, text in zip((Ids.BEN, EVE, FINN), PILE_ON, strict=True):
        sent = await server.send_message(Ids.GENERAL, author, text, reply_to=ids[0], thread=thread)
        ids.append(int(sent["id"]))
    return ids


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """label -> custom id of the buttons on a message payload."""
    return {b["label"]: b["custom_id"] for row in message["components"] for b in row["components"]}


def answer(server: FakeDiscordServer, interaction_id: int) -> Any:
    """The bot's last answer with content to one interaction (ephemeral or not)."""
    found = [
        r
        for r in server.interaction_responses()
        if r.interaction_id == interaction_id and r.content
    ]
    return found[-1] if found else None
