"""How Discord errors become outcomes: DowngradeError (tell the moderators instead), UnresolvedError (a
permanent failure), and ``failure`` (an ActionResult saying whether and when to retry)."""

from __future__ import annotations

import aiohttp
import discord

from bot.runtime.platform import ActionResult

PERMISSION_CODES = (50001, 50013)  # Missing Access, Missing Permissions
DMS_CLOSED = 50007  # Cannot send messages to this user
# Errors an attempt may end with; anything else is a bug, and the runtime's executor logs it.
PLATFORM_ERRORS = (discord.DiscordException, TimeoutError, aiohttp.ClientError, OSError)


class DowngradeError(Exception):
    """The action cannot be done here; moderators are told ``problem`` instead."""

    def __init__(self, action: str, problem: str) -> None:
        super().__init__(f"could not {action}: {problem}")
        self.action, self.problem = action, problem


class UnresolvedError(Exception):
    """The decision's guild, channel or member is unknown to this bot (a permanent failure)."""


def missing(permission: str, action: str) -> DowngradeError:
    """The DowngradeError for a permission the bot lacks."""
    return DowngradeError(action, f"it lacks the **{permission}** permission there")


def failure(error: BaseException, timeout: float) -> ActionResult:
    """The ActionResult for a platform error: retry rate limits, timeouts and server errors;
    never retry what Discord refused for good (400, 403, 404)."""
    if isinstance(error, discord.RateLimited):
        return ActionResult.failed(f"rate limited for {error.retry_after:.1f} s", error.retry_after)
    if isinstance(error, discord.HTTPException):
        detail = f"{error.status} {error.text or type(error).__name__} (code {error.code})"
        if error.status == 429:
            return ActionResult.failed(detail, float(error.response.headers.get("Retry-After", 5)))
        return ActionResult.failed(detail, 0.0 if error.status >= 500 else None)
    if isinstance(error, TimeoutError):
        return ActionResult.failed(f"no answer from Discord within {timeout:g} s", 0.0)
    return ActionResult.failed(f"{type(error).__name__}: {error}", 0.0)
