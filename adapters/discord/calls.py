"""The Discord REST calls the long-form module needs, as a Protocol (``DiscordGateway`` has them).

Declared apart from ``gateway`` so that ``longform`` need not import ``gateway``, which imports
``longform`` to open venues (the two were an import cycle).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, TypeVar

import discord

from adapters.discord.community import Community
from bot.core.events import ConversationKey

T = TypeVar("T")
Place = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel


class Calls(Protocol):
    """Resolving places and making guarded REST calls, as ``DiscordGateway`` does."""

    async def call(self, awaitable: Awaitable[T]) -> T:
        """``awaitable``, or TimeoutError after the gateway's timeout."""
        ...

    async def guarded(self, awaitable: Awaitable[T], permission: str, action: str) -> T:
        """Like ``call``; a 403 for a missing permission becomes a DowngradeError naming it."""
        ...

    async def channel(self, guild: discord.Guild, channel_id: int) -> Place | discord.ForumChannel:
        """A channel or thread of ``guild``."""
        ...

    async def place(self, conversation: ConversationKey) -> tuple[Community, discord.Guild, Place]:
        """The community, guild and channel or thread a decision is about."""
        ...

    def require(
        self, channel: Place | discord.ForumChannel, attr: str, name: str, action: str
    ) -> None:
        """Raise a DowngradeError if the bot lacks ``attr`` in ``channel``."""
        ...

    def humanize(self, guild: discord.Guild, text: str, redact: bool = False) -> str:
        """``text`` with ids made readable."""
        ...
