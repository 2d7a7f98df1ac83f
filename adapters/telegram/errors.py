"""How Bot API errors become outcomes: ``failure`` (an ActionResult saying whether and when to
retry), ``DowngradeError`` (do it another way: tell the moderators), and the checks on Telegram's
wording that PTB does not turn into types (PTB capitalises descriptions, so matching ignores case)."""

from __future__ import annotations

from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.runtime.platform import ActionResult

# Errors an attempt may end with; anything else is a bug, and the runtime's executor logs it.
PLATFORM_ERRORS = (TelegramError, TimeoutError, OSError)


class DowngradeError(Exception):
    """The action cannot be done here; the moderators are told ``problem`` instead."""

    def __init__(self, action: str, problem: str) -> None:
        super().__init__(f"could not {action}: {problem}")
        self.action, self.problem = action, problem


class UnresolvedError(Exception):
    """The decision's chat is unknown to this adapter (a permanent failure)."""


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


def lacks_rights(error: BaseException) -> bool:
    """A 400 or 403 saying the bot may not do this in that chat."""
    return isinstance(error, BadRequest | Forbidden) and says(
        error, "not enough rights", "have no rights", "chat_admin_required", "not an administrator"
    )


def failure(error: BaseException) -> ActionResult:
    """The ActionResult for a platform error: retry rate limits, timeouts and network trouble;
    never retry what Telegram refused for good (400, 403, a migrated chat, a bad token)."""
    if isinstance(error, RetryAfter):
        wait = seconds(error.retry_after)
        return ActionResult.failed(f"429 rate limited: retry after {wait:g} s", wait)
    if isinstance(error, ChatMigrated):
        return ActionResult.failed(f"the group became supergroup {error.new_chat_id}: update "
                                   "the community's id in the config")  # fmt: skip
    if isinstance(error, BadRequest | Forbidden | InvalidToken):
        code = (
            403 if isinstance(error, Forbidden) else 401 if isinstance(error, InvalidToken) else 400
        )
        return ActionResult.failed(f"{code} {error.message}")
    if isinstance(error, TimedOut | NetworkError | TimeoutError | OSError):
        return ActionResult.failed(f"network: {type(error).__name__}: {error}", 0.0)
    return ActionResult.failed(f"{type(error).__name__}: {error}", 0.0)
