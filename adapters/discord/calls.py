"""The Discord REST calls the long-form module needs, as a Protocol (``DiscordExecutor`` has them).

Declared apart from ``execute`` so that ``longform`` need not import ``execute``, which imports
``longform`` to open spaces (the two were an import cycle).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, TypeVar

import discord

from adapters.discord.community import Community
from adapters.discord.runtime_view import ServiceView
from bot.core.events import ConversationKey
from bot.runtime.pipeline import StepStore

T = TypeVar("T")
Place = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel


class Calls(Protocol):
    """Resolving places and making guarded REST calls, as ``DiscordExecutor`` does."""

    service: ServiceView | None

    @property
    def steps(self) -> StepStore:
        """The pipeline's record of what each decision key did (a retry does not act twice)."""
        ...

    async def call(self, awaitable: Awaitable[T]) -> T:
        """``awaitable``, or TimeoutError after the executor's timeout."""
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

    async def send(
        self,
        channel: Place,
        content: str,
        view: discord.ui.View | None,
        key: str | None,
        action: str,
    ) -> discord.Message:
        """Post ``content`` quietly after checking the bot may post there."""
        ...
