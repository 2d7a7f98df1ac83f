"""discord.py objects -> core events: pure functions, ``None`` for what Longform ignores.

Ignored: direct messages, guilds the config does not name, channels it does not watch, bots
(Longform's own messages included), webhooks and system messages (joins, pins, boosts, thread
starters). Ids become strings; a guild becomes the community ``discord:<guild id>``. A message in a
thread or forum post belongs to the conversation (channel = parent, thread = the thread). Time comes
from the platform (message timestamps) or from the caller's ``now``, never read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import discord

from adapters.discord.community import Community
from bot.core.events import MemberJoined, MessageDeleted, MessageEdited, MessagePosted

Known = Mapping[int, Community]
# Member messages worth judging; everything else Discord sends as a message is a system notice.
CONVERSATIONAL = frozenset({discord.MessageType.default, discord.MessageType.reply})


def place(channel: object) -> tuple[int, int | None] | None:
    """(channel id, thread id or None) of a guild text channel, thread or forum post; else None."""
    if isinstance(channel, discord.Thread):
        return (channel.parent_id, channel.id)
    if isinstance(channel, discord.TextChannel | discord.VoiceChannel | discord.StageChannel):
        return (channel.id, None)
    return None


def _community(message: discord.Message, known: Known) -> Community | None:
    guild = message.guild
    return None if guild is None else known.get(guild.id)


def _watched(message: discord.Message, known: Known) -> tuple[Community, int, int | None] | None:
    """The community and place of a member's message Longform judges, or None."""
    community = _community(message, known)
    where = place(message.channel)
    author = message.author
    if community is None or where is None or author.bot or author.system:
        return None
    if message.webhook_id is not None or message.type not in CONVERSATIONAL:
        return None
    channel, thread = where
    if not community.watches(thread or channel, channel if thread else None):
        return None
    return community, channel, thread


def _reply(message: discord.Message) -> tuple[str | None, str | None]:
    """(replied-to message id, its author id) when the message is a reply."""
    reference = message.reference
    if reference is None or reference.message_id is None:
        return None, None
    if message.type is not discord.MessageType.reply:
        return None, None  # a forward or a pin notice also carries a reference
    resolved = reference.resolved
    author = str(resolved.author.id) if isinstance(resolved, discord.Message) else None
    return str(reference.message_id), author


def roles_of(author: discord.Member | discord.User) -> frozenset[str]:
    """The author's role ids and names (a policy's ``exempt_roles`` may use either)."""
    if not isinstance(author, discord.Member):
        return frozenset()
    roles = [role for role in author.roles if not role.is_default()]
    return frozenset([str(role.id) for role in roles] + [role.name for role in roles])


def message_posted(message: discord.Message, known: Known) -> MessagePosted | None:
    """The core event for a member's message in a watched channel, thread or forum post."""
    watched = _watched(message, known)
    if watched is None:
        return None
    community, channel, thread = watched
    reply_to, reply_to_author = _reply(message)
    author = message.author
    mentions = tuple(dict.fromkeys(str(m.id) for m in message.mentions if not m.bot))
    joined = author.joined_at if isinstance(author, discord.Member) else None
    return MessagePosted(
        id=str(message.id), at=message.created_at, community=community.key, channel=str(channel),
        author=str(author.id), text=message.content, thread="" if thread is None else str(thread),
        reply_to=reply_to, reply_to_author=reply_to_author, mentions=mentions,
        author_joined_at=joined, author_roles=roles_of(author),
    )  # fmt: skip


def message_edited(
    update: discord.RawMessageUpdateEvent, known: Known, now: datetime
) -> MessageEdited | None:
    """The core event for a changed text; None when only embeds changed (a link preview)."""
    message = update.message
    if _watched(message, known) is None:
        return None
    before = update.cached_message
    if before is not None and before.content == message.content:
        return None
    return MessageEdited(id=str(message.id), at=message.edited_at or now, text=message.content)


def message_deleted(
    deletion: discord.RawMessageDeleteEvent, known: Known, now: datetime
) -> MessageDeleted | None:
    """The core event for a deleted message in a configured guild (the engine forgets it)."""
    if deletion.guild_id is None or deletion.guild_id not in known:
        return None
    return MessageDeleted(id=str(deletion.message_id), at=now)


def messages_deleted(
    deletion: discord.RawBulkMessageDeleteEvent, known: Known, now: datetime
) -> list[MessageDeleted]:
    """One core event per message of a bulk deletion in a configured guild."""
    if deletion.guild_id is None or deletion.guild_id not in known:
        return []
    return [
        MessageDeleted(id=str(message_id), at=now) for message_id in sorted(deletion.message_ids)
    ]


def member_joined(member: discord.Member, known: Known, now: datetime) -> MemberJoined | None:
    """The core event for a person (not a bot) joining a configured guild."""
    community = known.get(member.guild.id)
    if community is None or member.bot:
        return None
    return MemberJoined(at=member.joined_at or now, community=community.key, user=str(member.id))
