"""Pytest fixtures: the fake Telegram server, and the real PTB Application polling it.

Load them in a test module with `pytest_plugins = ("tests.fakes.telegram_fixtures",)` (or from
tests/conftest.py) and import helpers from `tests.fakes.telegram_app`, not from here: importing this
module before pytest loads it as a plugin trips a PytestAssertRewriteWarning (an error here).
`telegram_server` starts the fake on 127.0.0.1 and, after stopping it, fails the test if any asyncio
task is left running. `run_telegram_app` starts Applications and, at teardown, stops them and fails
the test if PTB logged an ERROR or passed an exception to the error handler: PTB swallows handler
errors.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.fakes.telegram_app import (
    AnyApplication,
    RunningBot,
    StartApp,
    build_application,
    running_application,
)
from tests.fakes.telegram_server import FakeTelegramServer


async def assert_no_leftover_tasks() -> None:
    """Fail if any task but the current one is still pending after a few loop turns."""
    current = asyncio.current_task()
    for _ in range(3):
        await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftover, f"tasks left running: {leftover}"


@pytest_asyncio.fixture
async def telegram_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegramServer]:
    """The fake Bot API on 127.0.0.1, stopped after the test (with no tasks left behind).

    Sets PTB_TIMEDELTA=true: PTB 22 otherwise emits a deprecation warning (an error under
    `filterwarnings = error`) whenever a time period such as RetryAfter.retry_after is read.
    """
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    server = FakeTelegramServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
    await assert_no_leftover_tasks()


@pytest_asyncio.fixture
async def run_telegram_app(telegram_server: FakeTelegramServer) -> AsyncIterator[StartApp]:
    """`await run_telegram_app(app=None, allowed_updates=..., poll_timeout=2) -> RunningBot`.

    Starts `app` (by default a fresh one built against the server) and stops it after the test,
    before the server. The test fails if PTB reported an error that `take_errors()` did not take.
    """
    started: list[RunningBot] = []
    async with contextlib.AsyncExitStack() as stack:

        async def start(app: AnyApplication | None = None, **options: Any) -> RunningBot:
            app = app if app is not None else build_application(telegram_server)
            bot = await stack.enter_async_context(running_application(app, **options))
            started.append(bot)
            return bot

        yield start
        # Let the bot confirm what the test queued last: an update pulled while the updater
        # stops is dropped with a CRITICAL log ("Updater stopped unexpectedly"). An update a
        # running bot never confirmed is a failure, not something to swallow.
        if started:
            await telegram_server.wait_until_delivered(timeout=10)
    for bot in started:
        bot.assert_no_errors()
