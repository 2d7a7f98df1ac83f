"""How Discord errors become the gateway's error kinds: ``DowngradeError`` (a missing permission or
a missing forum: the pipeline tells the moderators instead), ``UnresolvedError`` (a permanent
failure), and ``gateway_error`` (a retry for rate limits, timeouts and server errors; final for
what Discord refused); ``failure`` says the same as an ActionResult."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aiohttp
import discord

from bot.runtime.gateway import (
    GatewayError,
    MissingPermissionError,
    RetryLaterError,
    UnresolvedError,
)
from bot.runtime.platform import ActionResult

PERMISSION_CODES = (50001, 50013)  # Missing Access, Missing Permissions
DMS_CLOSED = 50007  # Cannot send messages to this user
# Errors an attempt may end with; anything else is a bug, and the runtime's executor logs it.
PLATFORM_ERRORS = (discord.DiscordException, TimeoutError, aiohttp.ClientError, OSError)
__all__ = ["DowngradeError", "UnresolvedError", "failure", "gateway_error", "missing"]


class DowngradeError(MissingPermissionError):
    """The action cannot be done here; the moderators are told ``problem`` instead."""

    def __init__(self, action: str, problem: str, permission: str = "") -> None:
        super().__init__(permission or problem, action)
        self.detail = self.problem = problem


def missing(permission: str, action: str) -> DowngradeError:
    """The DowngradeError for a permission the bot lacks."""
    return DowngradeError(action, f"it lacks the **{permission}** permission there", permission)


def gateway_error(error: BaseException, timeout: float) -> GatewayError:
    """The gateway's error for a platform error: retry rate limits, timeouts and server errors;
    never retry what Discord refused for good (400, 403, 404)."""
    if isinstance(error, GatewayError):
        return error
    if isinstance(error, discord.RateLimited):
        return RetryLaterError(f"rate limited for {error.retry_after:.1f} s", error.retry_after)
    if isinstance(error, discord.HTTPException):
        detail = f"{error.status} {error.text or type(error).__name__} (code {error.code})"
        if error.status == 429:
            return RetryLaterError(detail, float(error.response.headers.get("Retry-After", 5)))
        return RetryLaterError(detail, 0.0) if error.status >= 500 else GatewayError(detail)
    if isinstance(error, TimeoutError):
        return RetryLaterError(f"no answer from Discord within {timeout:g} s", 0.0)
    return RetryLaterError(f"{type(error).__name__}: {error}", 0.0)


def failure(error: BaseException, timeout: float) -> ActionResult:
    """``gateway_error`` as the ActionResult the runtime records."""
    found = gateway_error(error, timeout)
    retry = found.retry_after if isinstance(found, RetryLaterError) else None
    return ActionResult.failed(found.detail, retry)


@contextlib.contextmanager
def translated(timeout: float) -> Iterator[None]:
    """Raise Discord errors met inside the block as the gateway's errors."""
    try:
        yield
    except PLATFORM_ERRORS as error:
        raise gateway_error(error, timeout) from error
