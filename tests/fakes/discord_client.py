"""Running the real discord.py client against `FakeDiscordServer`.

`pointed_at(server, monkeypatch)` patches the two class attributes that hold Discord's addresses;
`running_client(server, client)` starts a client, waits until it is ready (or re-raises why it
stopped: LoginFailure, PrivilegedIntentsRequired, ...), and always closes it and awaits its task.
`build_client()` builds a `discord.Client` with the settings tests need.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
import yarl

from tests.fakes.discord_server import FakeDiscordServer

with warnings.catch_warnings():
    # discord.voice_client imports audioop, deprecated since 3.11, and pytest makes warnings errors.
    # Import discord from here in tests (`from tests.fakes.discord_client import discord`) unless
    # pyproject's filterwarnings ignores "'audioop' is deprecated".
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

__all__ = [
    "ErrorLog",
    "StartClient",
    "build_client",
    "default_intents",
    "discord",
    "pointed_at",
    "running_client",
]

ClientT = TypeVar("ClientT", bound=discord.Client)
# The `discord_client` fixture: `await start(client=None, token=None) -> client`, ready.
StartClient = Callable[..., Awaitable[discord.Client]]

# Loggers whose ERROR records fail a test: discord.py swallows handler errors and only logs them.
WATCHED_LOGGERS = ("discord", "aiohttp", "tests.fakes")


def pointed_at(server: FakeDiscordServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send discord.py's REST calls and gateway connections to the fake, for this test only."""
    monkeypatch.setattr(discord.http.Route, "BASE", server.base_url)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )


def default_intents() -> discord.Intents:
    """Intents.default() plus the privileged members and message content intents."""
    intents = discord.Intents.default()
    intents.members = True
    intents.message_content = True
    return intents


def build_client(intents: discord.Intents | None = None) -> discord.Client:
    """A plain Client; `guild_ready_timeout=0.01` because on_ready otherwise waits 2 s."""
    return discord.Client(intents=intents or default_intents(), guild_ready_timeout=0.01)


@contextlib.asynccontextmanager
async def running_client(
    server: FakeDiscordServer, client: ClientT, *, token: str | None = None, timeout: float = 5.0
) -> AsyncIterator[ClientT]:
    """Start `client`, wait until `is_ready()`, yield it; close it and await its task on exit."""
    task = asyncio.create_task(client.start(token or server.token), name="discord-client")
    try:
        await server.wait_for(lambda: task.done() or client.is_ready(), timeout)
        if task.done():
            task.result()  # raises why the client stopped
            raise RuntimeError("discord.py client stopped before it was ready")
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(task), timeout)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class ErrorLog(logging.Handler):
    """Collects ERROR records from `WATCHED_LOGGERS`; `take()` claims the expected ones."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        taken, self.records = self.records, []
        return taken

    def describe(self) -> str:
        return "\n".join(f"{r.name}: {r.getMessage()}" for r in self.records)
