"""The Discord communities the config names, keyed by guild id, as the adapter needs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import Config
from bot.runtime.gateway import CommunityRef

PLATFORM = "discord"


@dataclass(frozen=True, slots=True)
class Community:
    """One configured guild: where moderators read, where long-form posts go, what is watched."""

    guild_id: int
    moderators: int | None = None  # channel id
    longform_space: int | None = None  # forum channel id
    channels: frozenset[int] = frozenset()  # watched channels (empty: every channel)

    @property
    def key(self) -> str:
        """The community id the core sees: ``discord:<guild id>``."""
        return CommunityRef(PLATFORM, str(self.guild_id)).key

    def watches(self, channel_id: int, parent_id: int | None = None) -> bool:
        """True if a message in ``channel_id`` (a thread under ``parent_id``) is watched."""
        if not self.channels:
            return True
        # The long-form forum is watched too: its posts are where conversations move to.
        watched = (*self.channels, self.longform_space)
        return channel_id in watched or (parent_id is not None and parent_id in watched)


def _snowflake(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def communities(config: Config) -> dict[int, Community]:
    """Every ``[[communities]]`` entry with ``platform = "discord"``, by guild id.

    Ids that are not numbers are left out (the config validates only that they are strings).
    """
    found: dict[int, Community] = {}
    for entry in config.communities:
        guild = _snowflake(entry.id)
        if entry.platform != PLATFORM or guild is None:
            continue
        channels = frozenset(c for c in map(_snowflake, entry.channels) if c is not None)
        found[guild] = Community(
            guild, _snowflake(entry.moderators), _snowflake(entry.longform_space), channels
        )
    return found


def guild_of(community: str, known: Mapping[int, Community]) -> Community | None:
    """The configured community behind a core community id (``discord:<guild id>``), if any."""
    ref = CommunityRef.of(community)
    guild = _snowflake(ref.id) if ref.platform == PLATFORM else None
    return None if guild is None else known.get(guild)
