"""The Discord gateway: the runtime's ``Gateway`` primitives as discord.py REST calls.

How it works: the one execution pipeline (``bot.runtime.pipeline``) decides what each decision
means; this module resolves the guild and channel or thread, checks from the cache that the bot
holds the permission a call needs, and makes the call under ``asyncio.wait_for`` (discord.py has no
REST timeout of its own). A missing permission, seen in the cache or as a 403 from Discord, is a
``DowngradeError`` (the gateway's ``MissingPermissionError``: the pipeline alerts the moderators,
worded here as Discord's alerts are); closed DMs are ``Unreachable``; other errors are the
gateway's ``RetryLaterError`` (rate limits, timeouts, server errors) or final. Messages carry a
nonce derived from the key (Discord drops a duplicate). Slow mode is Discord's own
``rate_limit_per_user``; what was there before is what the lift restores.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import discord
import structlog

from adapters.discord import texts, views
from adapters.discord.calls import Place
from adapters.discord.community import PLATFORM, Community, guild_of
from adapters.discord.errors import (
    DMS_CLOSED,
    PERMISSION_CODES,
    UnresolvedError,
    missing,
    translated,
)
from adapters.discord.longform import open_post
from adapters.discord.runtime_view import ServiceView
from bot.core.events import ConversationKey
from bot.runtime.gateway import (
    ActionKind,
    Alert,
    CommunityRef,
    MemberRef,
    MessageRef,
    Notice,
    Private,
    RetryLaterError,
    Rights,
    Sent,
    SlowMode,
    SlowModeSet,
    Unreachable,
    Venue,
)
from bot.runtime.gateway import Place as Where
from bot.runtime.pipeline import MemorySteps, StepStore

log = structlog.get_logger()
T = TypeVar("T")
REST_TIMEOUT = 10.0  # seconds one REST call may take
QUIET = discord.AllowedMentions.none()
MAX_SLOW_MODE = 21600  # seconds: Discord's longest rate_limit_per_user


def nonce(key: str) -> str:
    """A message nonce from a key (Discord allows 25 characters): a decision key's first 25, or
    a digest of a step's key (``<key>.link``), so that the steps of one decision differ."""
    return key[:25] if "." not in key else hashlib.sha256(key.encode()).hexdigest()[:25]


def send_permission(channel: object) -> tuple[str, str]:
    """(attribute, name) of the permission to post in ``channel``."""
    if isinstance(channel, discord.Thread):
        return "send_messages_in_threads", "Send Messages in Threads"
    return "send_messages", "Send Messages"


_UNDO_REACH = 50  # recent messages an undo looks through for Longform's notices


class DiscordGateway:
    """``Gateway`` over a connected client. ``service`` is set once the adapter starts."""

    platform = PLATFORM

    def __init__(
        self,
        client: discord.Client,
        known: Mapping[int, Community],
        service: ServiceView | None = None,
        timeout: float = REST_TIMEOUT,
        steps: StepStore | None = None,
    ) -> None:
        self.client, self.known, self.service, self.timeout = client, known, service, timeout
        self.steps: StepStore = steps if steps is not None else MemorySteps()

    async def call(self, awaitable: Awaitable[T]) -> T:
        """``awaitable`` (a REST call), or TimeoutError after ``timeout`` seconds."""
        return await asyncio.wait_for(awaitable, self.timeout)

    async def guarded(self, awaitable: Awaitable[T], permission: str, action: str) -> T:
        """Like ``call``; a 403 for a missing permission becomes a DowngradeError naming it."""
        try:
            return await self.call(awaitable)
        except discord.Forbidden as error:
            if error.code in PERMISSION_CODES:
                raise missing(permission, action) from error
            raise

    # -- resolving ----------------------------------------------------------------------------------

    def community(self, conversation: ConversationKey) -> tuple[Community, discord.Guild]:
        """The configured community and its guild; UnresolvedError if either is unknown."""
        community = guild_of(conversation.community, self.known)
        if community is None:
            raise UnresolvedError(f"{conversation.community} is not a configured Discord community")
        guild = self.client.get_guild(community.guild_id)
        if guild is None and not self.client.is_ready():
            raise discord.ClientException("Discord is not connected yet")  # retried later
        if guild is None:
            raise UnresolvedError(f"the bot is not in guild {community.guild_id}")
        return community, guild

    async def channel(self, guild: discord.Guild, channel_id: int) -> Place | discord.ForumChannel:
        """A channel or thread of ``guild`` from the cache, else fetched (archived threads)."""
        found: object = guild.get_channel_or_thread(channel_id)
        if found is None:
            found = await self.call(self.client.fetch_channel(channel_id))
        if not isinstance(found, Place | discord.ForumChannel) or found.guild.id != guild.id:
            raise UnresolvedError(f"channel {channel_id} is not a text channel or thread here")
        return found

    async def place(self, conversation: ConversationKey) -> tuple[Community, discord.Guild, Place]:
        """The community, guild and channel or thread a decision is about."""
        community, guild = self.community(conversation)
        if not conversation.place.isdigit():
            raise UnresolvedError(f"{conversation.place!r} is not a Discord channel id")
        found = await self.channel(guild, int(conversation.place))
        if isinstance(found, discord.ForumChannel):
            raise UnresolvedError(f"{found.id} is a forum, not a conversation")
        return community, guild, found

    async def moderators(self, community: Community, guild: discord.Guild) -> Place:
        """The moderators' channel; UnresolvedError if none is configured."""
        if community.moderators is None:
            raise UnresolvedError(
                f"communities: guild {community.guild_id} has no moderators channel"
            )
        found = await self.channel(guild, community.moderators)
        if isinstance(found, discord.ForumChannel):
            raise UnresolvedError(f"moderators channel {found.id} is a forum")
        return found

    def require(
        self, channel: Place | discord.ForumChannel, attr: str, name: str, action: str
    ) -> None:
        """Raise a DowngradeError if the cache says the bot lacks ``attr`` in ``channel``."""
        if not getattr(channel.permissions_for(channel.guild.me), attr):
            raise missing(name, action)

    def names(self, guild: discord.Guild, text: str, redact: bool = False) -> dict[int, str]:
        """Display names (or "a member") and channel links for the ids written in ``text``."""
        found: dict[int, str] = {}
        for snowflake in texts.ids_in(text):
            member = guild.get_member(snowflake)
            if member is not None:
                found[snowflake] = "a member" if redact else member.display_name
            elif guild.get_channel_or_thread(snowflake) is not None:
                found[snowflake] = f"<#{snowflake}>"
        return found

    def humanize(self, guild: discord.Guild, text: str, redact: bool = False) -> str:
        """``text`` with ids made readable (see ``texts.humanize``)."""
        return texts.humanize(text, self.names(guild, text, redact))

    # -- actions ------------------------------------------------------------------------------------

    async def send(
        self,
        channel: Place,
        content: str,
        view: discord.ui.View | None,
        key: str | None,
        action: str,
    ) -> discord.Message:
        """Post ``content`` quietly (no pings) after checking the bot may post there; with a
        ``key``, Discord drops a second message with the same nonce."""
        attr, name = send_permission(channel)
        self.require(channel, attr, name, action)
        options: dict[str, Any] = {"allowed_mentions": QUIET}
        if view is not None:
            options["view"] = view
        if key is not None:
            options["nonce"] = nonce(key)
        sending = channel.send(texts.clip(content), **options)
        return await self.guarded(sending, name, action)

    async def set_delay(self, channel: Place, seconds: int, action: str) -> None:
        """Set ``rate_limit_per_user`` (Manage Channels; Manage Threads in a thread)."""
        thread = isinstance(channel, discord.Thread)
        attr, name = ("manage_threads", "Manage Threads") if thread else ("manage_channels", "Manage Channels")  # fmt: skip
        self.require(channel, attr, name, action)
        await self.guarded(channel.edit(slowmode_delay=seconds), name, action)

    async def _translated(self, work: Awaitable[T]) -> T:
        """``work``, with Discord's errors raised as the gateway's."""
        try:
            with translated(self.timeout):
                return await work
        except RuntimeError as error:  # aiohttp's "Session is closed" while shutting down
            if not self.client.is_closed():
                raise
            raise RetryLaterError(f"the Discord client is closed ({error})", 0.0) from error

    def _guild(self, community: CommunityRef) -> tuple[Community, discord.Guild]:
        return self.community(ConversationKey(community.key, ""))

    # -- the primitives -----------------------------------------------------------------------------

    async def post_notice(self, notice: Notice, key: str) -> Sent:
        return await self._translated(self._post_notice(notice, key))

    async def _post_notice(self, notice: Notice, key: str) -> Sent:
        _, guild, channel = await self.place(notice.place.conversation)
        kinds = {action.kind: action.key for action in notice.actions}
        view: discord.ui.View
        text, action = notice.text, "post a notice"
        if ActionKind.SHOW_NOTE in kinds:  # the button shows the note to its member alone
            view, text = views.note_view(kinds[ActionKind.SHOW_NOTE]), texts.NOTE_NOTICE
            action = "post a private note"
        elif ActionKind.CONSENT in kinds:
            view, text = views.consent_view(kinds[ActionKind.CONSENT]), texts.CONSENT_OFFER
            action = "open a long-form space"
        else:
            decision = next(iter(kinds.values()), key)
            view = views.notice_view(decision, ActionKind.OPEN_LONGFORM in kinds)
        message = await self.send(channel, self.humanize(guild, text), view, key, action)
        return Sent(str(message.id), f"notice {message.id}", message.jump_url)

    async def reply(self, to: MessageRef, text: str, key: str) -> Sent:
        async def replying() -> Sent:
            _, guild, channel = await self.place(to.place.conversation)
            action = "leave a link to the long-form space"
            message = await self.send(channel, self.humanize(guild, text), None, key, action)
            return Sent(str(message.id), f"message {message.id}", message.jump_url)

        return await self._translated(replying())

    async def send_private(self, message: Private, key: str) -> Sent | Unreachable:
        return await self._translated(self._send_private(message, key))

    async def _send_private(self, private: Private, key: str) -> Sent | Unreachable:
        _, guild = self._guild(private.member.community)
        if not private.member.id.isdigit():
            raise UnresolvedError(f"{private.member.id!r} is not a Discord user id")
        user: discord.Member | discord.User | None = guild.get_member(int(private.member.id))
        if user is None:
            user = await self.call(self.client.fetch_user(int(private.member.id)))
        text = texts.clip(self.humanize(guild, private.text))
        try:
            sent = await self.call(user.send(text, view=views.prompt_view(key), nonce=nonce(key)))
        except discord.Forbidden as error:
            if error.code != DMS_CLOSED:
                raise
            return Unreachable("DMs closed")
        return Sent(str(sent.id), f"DM {sent.id}")

    async def set_slow_mode(self, slow: SlowMode, key: str) -> SlowModeSet:
        async def setting() -> SlowModeSet:
            _, _, channel = await self.place(slow.place.conversation)
            seconds, was = min(max(slow.seconds, 0), MAX_SLOW_MODE), channel.slowmode_delay
            if was != seconds:
                await self.set_delay(channel, seconds, "set slow mode")
            return SlowModeSet(json.dumps({"was": was}), detail=f"slow mode {seconds} s")

        return await self._translated(setting())

    async def restore_slow_mode(self, place: Where, restore: str) -> Sent:
        try:
            was = int(json.loads(restore)["was"])
        except (ValueError, KeyError, TypeError) as error:
            raise UnresolvedError(f"not a Discord slow mode record: {restore!r}") from error

        async def restoring() -> Sent:
            _, _, channel = await self.place(place.conversation)
            if channel.slowmode_delay != was:
                await self.set_delay(channel, was, "lift slow mode")
            return Sent(str(channel.id), f"slow mode {was} s")

        return await self._translated(restoring())

    async def open_venue(self, venue: Venue, key: str) -> Sent:
        return await self._translated(open_post(self, venue, key))

    def venue_place(self, community: CommunityRef, reference: str) -> Where:
        """A forum post: its messages are in the long-form forum, in the post's thread."""
        found, _ = self._guild(community)
        if found.longform_space is None or not reference.isdigit():
            raise UnresolvedError(f"{reference!r} is not a forum post of {community}")
        return Where(community, str(found.longform_space), reference)

    async def undo_actions(self, place: Where, key: str) -> Sent:
        return await self._translated(self._undo(place))

    async def _undo(self, place: Where) -> Sent:
        """Lift the slow mode and delete Longform's notices (its messages with buttons) among the
        place's last 50 messages."""
        _, guild, channel = await self.place(place.conversation)
        done: list[str] = []
        if channel.slowmode_delay:
            await self.set_delay(channel, 0, "lift slow mode")
            done.append("slow mode lifted")
        removed = 0
        async for message in channel.history(limit=_UNDO_REACH):
            mine = message.author.id == guild.me.id
            if mine and any(i.startswith("lf:") for i in views.custom_ids(message)):
                await self.call(message.delete())
                removed += 1
        done.append(f"{removed} notice(s) removed")
        return Sent(str(channel.id), ", ".join(done))

    async def alert_moderators(self, alert: Alert, key: str) -> Sent:
        return await self._translated(self._alert(alert, key))

    async def _alert(self, alert: Alert, key: str) -> Sent:
        community, guild = self._guild(alert.community)
        channel = await self.moderators(community, guild)
        if alert.place is None:  # the digest: in parts if long, no nonce (the parts differ)
            sent = [await self.send(channel, part, None, None, "post the digest")
                    for part in texts.chunks(alert.text)]  # fmt: skip
            return Sent(str(sent[-1].id) if sent else "", "digest")
        place = alert.place.id
        if alert.could_not:  # an alert standing in for an action Longform could not do
            summary = self.humanize(guild, alert.reason)
            content = texts.downgraded_content(
                alert.could_not, f"<#{place}>", alert.problem, summary
            )
        else:
            content = self._alert_content(community, guild, alert)
        view = views.alert_view(alert.actions[0].key) if alert.actions else None
        message = await self.send(channel, content, view, key, "alert moderators")
        return Sent(str(message.id), f"alert {message.id}", message.jump_url)

    def _alert_content(self, community: Community, guild: discord.Guild, alert: Alert) -> str:
        assert alert.place is not None
        place = alert.place.id
        evidence = tuple(ref.id for ref in alert.evidence)
        links = {int(m): f"[{n}]({texts.link(guild.id, place, m)})"
                 for n, m in enumerate(evidence, 1) if m.isdigit()}  # fmt: skip
        summary = texts.humanize(alert.text, self.names(guild, alert.text) | links)
        unquoted = any(m not in alert.text for m in evidence)
        return texts.alert_content(
            summary, f"<#{place}>", texts.evidence_links(guild.id, place, evidence) if unquoted else "",
            self.service.mode(community.key) if self.service else "live",
        )  # fmt: skip

    async def post_in_venue(self, community: CommunityRef, reference: str, text: str) -> Sent:
        async def posting() -> Sent:
            _, _, post = await self.place(ConversationKey(community.key, reference))
            if isinstance(post, discord.Thread) and post.archived:
                await self.call(post.edit(archived=False))
            message = await self.send(post, text, None, None, "post a reminder")
            return Sent(str(message.id))

        return await self._translated(posting())

    async def rights(self, member: MemberRef, place: Where) -> Rights:
        _, guild = self._guild(member.community)
        found = guild.get_member(int(member.id)) if member.id.isdigit() else None
        if found is None:
            return Rights(False)
        perms = found.guild_permissions
        moderator = perms.manage_guild or perms.manage_messages or perms.manage_threads
        return Rights(moderator, found.display_name)

    async def resolve_names(
        self, community: CommunityRef, ids: tuple[str, ...]
    ) -> Mapping[str, str]:
        """Members' display names (channels are linked where a message is posted, not here: a
        title names its thread by the thread's name)."""
        try:
            _, guild = self._guild(community)
        except (UnresolvedError, discord.ClientException):
            return {}  # the primitive that follows says what is wrong
        members = ((raw, guild.get_member(int(raw))) for raw in ids if raw.isdigit())
        return {raw: member.display_name for raw, member in members if member is not None}
