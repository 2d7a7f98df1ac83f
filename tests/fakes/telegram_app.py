"""A real python-telegram-bot Application running against the fake server, for tests.

How it works: `build_application` points an Application at the fake (`base_url`, no patching);
`running_application` runs it with the manual lifecycle (never `run_polling()`, which owns the event
loop and installs signal handlers) and collects what PTB would otherwise swallow: exceptions passed to
the error handler and records logged at ERROR under the `telegram` logger.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from tests.fakes.telegram_server import FakeTelegramServer

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
StartApp = Callable[..., Awaitable["RunningBot"]]


@dataclass
class RunningBot:
    """A started Application plus what went wrong inside it (handler errors, ERROR logs)."""

    app: AnyApplication
    errors: list[BaseException] = field(default_factory=list)
    error_logs: list[logging.LogRecord] = field(default_factory=list)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            self.errors.append(context.error)

    def take_errors(self) -> list[BaseException]:
        """Return and forget the handler errors so far (for tests that provoke them)."""
        taken, self.errors[:] = list(self.errors), []
        self.error_logs.clear()
        return taken

    def assert_no_errors(self) -> None:
        """Fail if a handler raised or PTB logged at ERROR or above."""
        problems = [repr(e) for e in self.errors]
        problems += [f"{r.name}: {r.getMessage()}" for r in self.error_logs]
        assert not problems, "python-telegram-bot reported errors: " + "; ".join(problems)


class _ErrorLog(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self._records = records

    def emit(self, record: logging.LogRecord) -> None:
        self._records.append(record)


def build_application(server: FakeTelegramServer, *, token: str | None = None) -> AnyApplication:
    """An Application whose bot talks to `server` (with `token`, the server's by default)."""
    return (
        ApplicationBuilder()
        .token(token or server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )


@contextlib.asynccontextmanager
async def running_application(
    app: AnyApplication,
    *,
    allowed_updates: Sequence[str] | None = Update.ALL_TYPES,
    poll_timeout: int = 2,
) -> AsyncIterator[RunningBot]:
    """Initialize, start and poll `app`; on exit stop the updater, the app, and shut down.

    `allowed_updates` defaults to every type: Telegram leaves out `chat_member` otherwise.
    """
    bot = RunningBot(app)
    app.add_error_handler(bot._on_error)
    log_handler = _ErrorLog(bot.error_logs)
    logger = logging.getLogger("telegram")
    logger.addHandler(log_handler)
    try:
        await initialize(app)
        try:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0, timeout=poll_timeout, allowed_updates=allowed_updates
            )
            yield bot
        finally:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
    finally:
        logger.removeHandler(log_handler)


async def initialize(app: AnyApplication) -> None:
    """`app.initialize()`, closing the bot's HTTP client if that fails.

    PTB's `Application.shutdown()` (and so `async with app`) returns early when initialization
    failed, e.g. on InvalidToken, leaving the connection of the failed getMe open.
    """
    try:
        await app.initialize()
    except BaseException:
        await app.bot.shutdown()
        raise
