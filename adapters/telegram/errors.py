"""How Bot API errors become the gateway's error kinds (``gateway_error``: a retry for 429s,
timeouts and network trouble, final for what Telegram refused), and the checks on Telegram's
wording that PTB does not turn into types (PTB capitalises descriptions, so matching ignores case).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from bot.runtime.gateway import (
    GatewayError,
    MissingPermissionError,
    RetryLaterError,
    UnresolvedError,
)

# Errors an attempt may end with; anything else is a bug, and the runtime's executor logs it.
PLATFORM_ERRORS = (TelegramError, TimeoutError, OSError)


class NotAForumError(MissingPermissionError):
    """Long form needs a forum group (topics on), which the group is not; ``detail`` says what
    to change, as the pipeline tells the moderators."""

    def __init__(self, detail: str) -> None:
        super().__init__("Topics (a forum group)", "open a long-form topic")
        self.detail = detail


def seconds(value: int | float | timedelta) -> float:
    """A PTB time period (a timedelta with PTB_TIMEDELTA, a number without) in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def says(error: BaseException, *fragments: str) -> bool:
    """Whether Telegram's description of ``error`` contains any of ``fragments`` (any case)."""
    text = str(error).lower()
    return any(fragment.lower() in text for fragment in fragments)


def cannot_reach_member(error: BaseException) -> bool:
    """A private message refused because the member never started the bot or blocked it."""
    return isinstance(error, Forbidden) or (
        isinstance(error, BadRequest) and says(error, "chat not found")
    )


def gateway_error(error: BaseException) -> GatewayError:
    """The gateway's error for a platform error: retry rate limits, timeouts and network trouble;
    never retry what Telegram refused for good (400, 403, a migrated chat, a bad token)."""
    if isinstance(error, GatewayError):
        return error
    if isinstance(error, RetryAfter):
        wait = seconds(error.retry_after)
        return RetryLaterError(f"429 rate limited: retry after {wait:g} s", wait)
    if isinstance(error, ChatMigrated):
        return UnresolvedError(f"the group became supergroup {error.new_chat_id}: update "
                               "the community's id in the config")  # fmt: skip
    if isinstance(error, BadRequest | Forbidden | InvalidToken):
        code = (
            403 if isinstance(error, Forbidden) else 401 if isinstance(error, InvalidToken) else 400
        )
        return GatewayError(f"{code} {error.message}")
    return RetryLaterError(f"network: {type(error).__name__}: {error}", 0.0)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Raise Bot API errors met inside the block as the gateway's errors."""
    try:
        yield
    except PLATFORM_ERRORS as error:
        raise gateway_error(error) from error
