"""Pytest fixtures: the fake Discord, discord.py pointed at it, and clients run against it.

Load them with `pytest_plugins = ("tests.fakes.discord_fixtures",)` in a test module (or from
tests/conftest.py) and import helpers from `tests.fakes.discord_client` / `discord_server`, not from
here (importing a module before pytest loads it as a plugin trips a PytestAssertRewriteWarning).

- `discord_server`: a started `FakeDiscordServer`, with `Route.BASE` and `DEFAULT_GATEWAY` patched
  to it. At teardown it is stopped, and the test fails if an asyncio task is left running, if the
  client called a route the fake does not serve, or if discord.py (or aiohttp, or the fake) logged
  an ERROR that the test did not claim with `discord_errors.take()`.
- `discord_client`: `await discord_client(client=None, token=None) -> client`: starts a client
  (by default `build_client()`), waits until it is ready, and closes it at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import discord
import pytest
import pytest_asyncio

from tests.fakes.discord_client import (
    WATCHED_LOGGERS,
    ErrorLog,
    StartClient,
    build_client,
    pointed_at,
    running_client,
)
from tests.fakes.discord_server import FakeDiscordServer


@pytest.fixture
def discord_errors() -> Iterator[ErrorLog]:
    """ERROR records logged during the test; any left unclaimed fails it."""
    handler = ErrorLog()
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    if handler.records:
        pytest.fail(f"ERROR logged during the test:\n{handler.describe()}")


@pytest_asyncio.fixture
async def discord_server(
    monkeypatch: pytest.MonkeyPatch, discord_errors: ErrorLog
) -> AsyncIterator[FakeDiscordServer]:
    server = FakeDiscordServer()
    await server.start()
    pointed_at(server, monkeypatch)
    try:
        yield server
    finally:
        await server.stop()
    await _assert_no_leftover_tasks()
    assert not server.unhandled, f"routes the fake does not serve: {server.unhandled}"


@pytest_asyncio.fixture
async def discord_client(discord_server: FakeDiscordServer) -> AsyncIterator[StartClient]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            client: discord.Client | None = None, token: str | None = None
        ) -> discord.Client:
            running = running_client(discord_server, client or build_client(), token=token)
            return await stack.enter_async_context(running)

        yield start


async def _assert_no_leftover_tasks() -> None:
    current = asyncio.current_task()
    for _ in range(3):
        await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftover, f"tasks left running: {leftover}"
