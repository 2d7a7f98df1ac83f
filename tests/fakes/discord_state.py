"""The world a fake Discord serves: one guild, its roles, channels, threads and members.

How it works: plain dataclasses hold what a test may want to change (a member's DMs closed, a
channel's slow mode, a forum's tags), and `*_payload` methods render them as the JSON Discord sends,
with string snowflakes and every field discord.py's parsers index. Messages are stored as payloads
because that is what the fake sends and what tests inspect.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
_counter = itertools.count(1)

# Channel types (Discord API).
TEXT, DM, CATEGORY, PUBLIC_THREAD, PRIVATE_THREAD, FORUM = 0, 1, 4, 11, 12, 15
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)

# Permission bits (strings on the wire).
_EVERYONE_PERMISSIONS = 1071698660929  # view, send, read history, reactions, threads, ...
_MODERATOR_PERMISSIONS = _EVERYONE_PERMISSIONS | (1 << 13) | (1 << 40)  # manage messages, timeout
_BOT_PERMISSIONS = (
    _EVERYONE_PERMISSIONS | (1 << 4) | (1 << 13) | (1 << 34)
)  # + manage channels, threads


def snowflake() -> int:
    """Return a fresh snowflake whose timestamp is now, unique within this process."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_counter) % (1 << 22))


def iso_now() -> str:
    """Return the current UTC time in Discord's ISO 8601 form."""
    return datetime.now(UTC).isoformat()


class Ids:
    """Snowflakes of the default world, stable across runs so tests can name them."""

    GUILD = 1300000000000000100
    BOT = 1300000000000000001
    EVERYONE = GUILD
    MODERATORS = 1300000000000000201
    BOT_ROLE = 1300000000000000202
    GENERAL = 1300000000000000301
    MOD_ALERTS = 1300000000000000302
    FORUM = 1300000000000000303
    THREAD = 1300000000000000304  # a public thread under GENERAL
    TAG_DISCUSSION = 1300000000000000401
    TAG_CLINICAL = 1300000000000000402
    TAG_METHODS = 1300000000000000403
    ANA = 1300000000000000501
    BEN = 1300000000000000502
    CLEO = 1300000000000000503  # DMs closed
    DANA = 1300000000000000504  # moderator


@dataclass
class FakeUser:
    """A user, and (unless `in_guild` is false) their membership of the guild."""

    id: int
    username: str
    bot: bool = False
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    dms_open: bool = True
    in_guild: bool = True
    joined_at: str = field(default_factory=iso_now)

    def user_payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.username.title(),
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "primary_guild": None,
            "collectibles": None,
        }

    def member_payload(self, *, with_user: bool = True) -> Json:
        member: Json = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.roles],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = self.user_payload()
        return member


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
            "tags": {"bot_id": str(Ids.BOT)} if self.managed else {},
        }


@dataclass
class FakeChannel:
    """A guild channel or thread. `bot_can_send=False` makes the bot's sends answer 403 50013."""

    id: int
    type: int
    name: str
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    rate_limit_per_user: int = 0
    available_tags: list[Json] = field(default_factory=list)  # forums: {id, name, moderated}
    applied_tags: list[int] = field(default_factory=list)  # threads in a forum
    owner_id: int | None = None  # threads
    archived: bool = False
    locked: bool = False
    bot_can_send: bool = True
    last_message_id: int | None = None
    message_count: int = 0
    created_at: str = field(default_factory=iso_now)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def payload(self, guild_id: int) -> Json:
        data: Json = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild_id),
            "name": self.name,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "rate_limit_per_user": self.rate_limit_per_user,
            "last_message_id": None if self.last_message_id is None else str(self.last_message_id),
            "flags": 0,
        }
        if self.is_thread:
            data.update(self._thread_fields())
        else:
            data.update(
                position=self.position,
                permission_overwrites=[],
                topic=self.topic,
                nsfw=False,
                default_auto_archive_duration=1440,
                default_thread_rate_limit_per_user=0,
            )
        if self.type == FORUM:
            data.update(
                available_tags=[_tag(t) for t in self.available_tags],
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                template="",
            )
        return data

    def _thread_fields(self) -> Json:
        return {
            "owner_id": str(self.owner_id or Ids.BOT),
            "message_count": self.message_count,
            "member_count": 1,
            "total_message_sent": self.message_count,
            "applied_tags": [str(t) for t in self.applied_tags],
            "thread_metadata": {
                "archived": self.archived,
                "auto_archive_duration": 1440,
                "archive_timestamp": self.created_at,
                "locked": self.locked,
                "create_timestamp": self.created_at,
            },
        }


def _tag(tag: Json) -> Json:
    defaults = {"moderated": False, "emoji_id": None, "emoji_name": None}
    return defaults | tag | {"id": str(tag["id"])}


@dataclass
class World:
    """One guild with everything in it. Mutate it before the client connects."""

    guild_id: int = Ids.GUILD
    guild_name: str = "Clinicians Commons"
    bot: FakeUser = field(default_factory=lambda: FakeUser(Ids.BOT, "longform", bot=True))
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    users: dict[int, FakeUser] = field(default_factory=dict)

    @classmethod
    def default(cls) -> World:
        """The world of `Ids`: #general (with a thread), #mod-alerts, a forum with 3 tags, 4 members."""
        world = cls()
        world.bot.roles = [Ids.BOT_ROLE]
        world.users[Ids.BOT] = world.bot
        for role in (
            FakeRole(Ids.EVERYONE, "@everyone", _EVERYONE_PERMISSIONS),
            FakeRole(Ids.MODERATORS, "Moderators", _MODERATOR_PERMISSIONS, position=2),
            FakeRole(Ids.BOT_ROLE, "Longform", _BOT_PERMISSIONS, position=1, managed=True),
        ):
            world.roles[role.id] = role
        tags = [
            {"id": Ids.TAG_DISCUSSION, "name": "discussion"},
            {"id": Ids.TAG_CLINICAL, "name": "clinical"},
            {"id": Ids.TAG_METHODS, "name": "methods"},
        ]
        for channel in (
            FakeChannel(Ids.GENERAL, TEXT, "general", position=0, topic="Talk shop"),
            FakeChannel(Ids.MOD_ALERTS, TEXT, "mod-alerts", position=1),
            FakeChannel(Ids.FORUM, FORUM, "long-form", position=2, available_tags=tags),
            FakeChannel(Ids.THREAD, PUBLIC_THREAD, "case-review", parent_id=Ids.GENERAL),
        ):
            world.channels[channel.id] = channel
        for user in (
            FakeUser(Ids.ANA, "ana"),
            FakeUser(Ids.BEN, "ben"),
            FakeUser(Ids.CLEO, "cleo", dms_open=False),
            FakeUser(Ids.DANA, "dana", roles=[Ids.MODERATORS]),
        ):
            world.users[user.id] = user
        return world

    def members(self) -> list[FakeUser]:
        return [u for u in self.users.values() if u.in_guild]

    def tag_ids(self, forum_id: int) -> set[int]:
        return {int(t["id"]) for t in self.channels[forum_id].available_tags}

    def guild_payload(self) -> Json:
        """The full GUILD_CREATE payload, with the whole member list (so no chunking is needed)."""
        chans = [c for c in self.channels.values() if not c.is_thread]
        threads = [c for c in self.channels.values() if c.is_thread and not c.archived]
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(Ids.DANA),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "system_channel_id": str(Ids.GENERAL) if Ids.GENERAL in self.channels else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "preferred_locale": "en-US",
            "features": [],
            "max_members": 500000,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "application_id": None,
            "joined_at": self.bot.joined_at,
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(self.members()),
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "channels": [c.payload(self.guild_id) for c in chans],
            "threads": [c.payload(self.guild_id) for c in threads],
            "members": [u.member_payload() for u in self.members()],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "incidents_data": None,
        }

    def application_payload(self) -> Json:
        owner = self.users.get(Ids.DANA, self.bot)
        return {
            "id": str(self.bot.id),
            "name": self.bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.bot.user_payload(),
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": owner.user_payload(),
            "team": None,
            "flags": 1 << 19,  # GATEWAY_MESSAGE_CONTENT_LIMITED
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "approximate_guild_count": 1,
            "integration_types_config": {"0": {}},
        }


def message_payload(
    *,
    channel_id: int,
    guild_id: int | None,
    author: FakeUser,
    content: str,
    message_id: int | None = None,
    reply_to: Json | None = None,
    mentions: list[FakeUser] | None = None,
    components: list[Json] | None = None,
    embeds: list[Json] | None = None,
    flags: int = 0,
) -> Json:
    """A message as the gateway sends it (REST answers drop `guild_id` and `member`).

    A reply has type 19, a `message_reference` and the `referenced_message` itself.
    """
    data: Json = {
        "id": str(message_id or snowflake()),
        "type": 0 if reply_to is None else 19,
        "channel_id": str(channel_id),
        "author": author.user_payload(),
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [_mention(u, guild_id) for u in mentions or []],
        "mention_roles": [],
        "mention_channels": [],
        "attachments": [],
        "embeds": embeds or [],
        "pinned": False,
        "flags": flags,
        "components": components or [],
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
        if author.in_guild:
            data["member"] = author.member_payload(with_user=False)
    if reply_to is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": reply_to["id"],
            "channel_id": reply_to["channel_id"],
            "guild_id": None if guild_id is None else str(guild_id),
        }
        data["referenced_message"] = {
            k: v for k, v in reply_to.items() if k not in ("referenced_message", "member")
        }
    return data


def _mention(user: FakeUser, guild_id: int | None) -> Json:
    data = user.user_payload()
    if guild_id is not None and user.in_guild:
        data["member"] = user.member_payload(with_user=False)
    return data
