"""Core decisions -> Discord REST calls, with every outcome an ``ActionResult``.

How it works: ``DiscordExecutor.execute`` resolves the decision's guild and channel or thread,
checks from the cache that the bot holds the permission the action needs, and makes the calls, each
under ``asyncio.wait_for`` (discord.py has no REST timeout of its own). A missing permission, seen in
the cache or as a 403 from Discord, downgrades the action to a moderators' alert that names it
(status DOWNGRADED); so does a private prompt to a member whose DMs are closed, which becomes a
neutral public notice whose button shows the prompt to that member alone. Other errors become a
FAILED result: a retry time for rate limits, timeouts and server errors, none for 403/404/400.
Messages carry a nonce derived from the decision key (Discord drops a duplicate), and a key already
done (recorded in the pipeline's step store) is not done twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import discord
import structlog

from adapters.discord import texts, views
from adapters.discord.calls import Place
from adapters.discord.community import Community, guild_of
from adapters.discord.errors import (
    DMS_CLOSED,
    PERMISSION_CODES,
    PLATFORM_ERRORS,
    DowngradeError,
    UnresolvedError,
    failure,
    missing,
)
from adapters.discord.longform import open_space
from adapters.discord.runtime_view import ServiceView
from bot.core.decisions import (
    AlertModerators,
    Decision,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptMember,
    SetSlowMode,
)
from bot.core.events import ConversationKey
from bot.runtime.pipeline import MemorySteps, StepStore, record, recorded
from bot.runtime.platform import ActionResult, Status

log = structlog.get_logger()
T = TypeVar("T")
REST_TIMEOUT = 10.0  # seconds one REST call may take
QUIET = discord.AllowedMentions.none()


def nonce(key: str) -> str:
    """A message nonce from a decision key (Discord allows 25 characters)."""
    return key[:25]


def send_permission(channel: object) -> tuple[str, str]:
    """(attribute, name) of the permission to post in ``channel``."""
    if isinstance(channel, discord.Thread):
        return "send_messages_in_threads", "Send Messages in Threads"
    return "send_messages", "Send Messages"


class DiscordExecutor:
    """Carries out decisions with a connected client. ``service`` is set once the adapter starts."""

    def __init__(
        self,
        client: discord.Client,
        known: Mapping[int, Community],
        service: ServiceView | None = None,
        timeout: float = REST_TIMEOUT,
        steps: StepStore | None = None,
    ) -> None:
        self.client, self.known, self.service, self.timeout = client, known, service, timeout
        # The pipeline's record of what each key did (kept across restarts once the adapter
        # runs in the service), so a retry does not act twice: no dict of its own here.
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

    # -- entry points -------------------------------------------------------------------------------

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Carry out ``decision``; never raises."""
        done = await recorded(self.steps, key)
        if done is not None:
            return done
        result = await self.attempt(self._attempt(decision, key))
        await record(self.steps, key, result)
        return result

    async def attempt(self, work: Awaitable[ActionResult]) -> ActionResult:
        """What ``work`` returns, or the ActionResult for the platform error it raised."""
        try:
            return await work
        except UnresolvedError as error:
            return ActionResult.failed(str(error))
        except DowngradeError as error:
            return ActionResult.failed(str(error))
        except PLATFORM_ERRORS as error:
            return failure(error, self.timeout)
        except RuntimeError as error:  # aiohttp's "Session is closed" while shutting down
            if not self.client.is_closed():
                raise
            return ActionResult.failed(f"the Discord client is closed ({error})", 0.0)

    async def _attempt(self, decision: Decision, key: str) -> ActionResult:
        try:
            return await self._dispatch(decision, key)
        except DowngradeError as downgrade:
            if isinstance(decision, AlertModerators):
                return ActionResult.failed(f"moderators' channel: {downgrade.problem}")
            return await self.downgrade(decision, key, downgrade)

    async def _dispatch(self, decision: Decision, key: str) -> ActionResult:
        if isinstance(decision, PostNotice):
            return await self._notice(decision, key)
        if isinstance(decision, PromptMember):
            return await self._prompt(decision, key)
        if isinstance(decision, SetSlowMode | LiftSlowMode):
            return await self._slow_mode(decision)
        if isinstance(decision, AlertModerators):
            return await self._alert(decision, key)
        if isinstance(decision, OpenLongformSpace):
            return await open_space(self, decision, key)
        raise UnresolvedError(f"unknown decision {type(decision).__name__}")

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

    async def _notice(self, decision: PostNotice, key: str) -> ActionResult:
        _, guild, channel = await self.place(decision.conversation)
        text = self.humanize(guild, decision.text)
        view = views.notice_view(key, decision.offers_longform)
        message = await self.send(channel, text, view, key, "post a notice")
        return ActionResult.sent(f"notice {message.id}", str(message.id))

    async def _prompt(self, decision: PromptMember, key: str) -> ActionResult:
        _, guild = self.community(decision.conversation)
        if not decision.member.isdigit():
            raise UnresolvedError(f"{decision.member!r} is not a Discord user id")
        user: discord.Member | discord.User | None = guild.get_member(int(decision.member))
        if user is None:
            user = await self.call(self.client.fetch_user(int(decision.member)))
        text = texts.clip(self.humanize(guild, decision.text))
        try:
            message = await self.call(
                user.send(text, view=views.prompt_view(key), nonce=nonce(key))
            )
        except discord.Forbidden as error:
            if error.code != DMS_CLOSED:
                raise
            return await self._note_in_public(decision, key)
        return ActionResult.sent(f"DM {message.id}", str(message.id))

    async def _note_in_public(self, decision: PromptMember, key: str) -> ActionResult:
        _, _, channel = await self.place(decision.conversation)
        view = views.note_view(key)
        message = await self.send(channel, texts.NOTE_NOTICE, view, key, "post a private note")
        detail = f"DMs closed: neutral public notice {message.id}, the note shown on click"
        return ActionResult(Status.DOWNGRADED, detail, None, str(message.id))

    async def _slow_mode(self, decision: SetSlowMode | LiftSlowMode) -> ActionResult:
        _, _, channel = await self.place(decision.conversation)
        seconds = min(max(decision.seconds, 0), 21600) if isinstance(decision, SetSlowMode) else 0
        action = "set slow mode" if seconds else "lift slow mode"
        if channel.slowmode_delay == seconds:
            return ActionResult(Status.SKIPPED if not seconds else Status.SENT,
                                f"slow mode already {seconds} s", None, str(channel.id))  # fmt: skip
        await self.set_slow_mode(channel, seconds, action)
        return ActionResult.sent(f"slow mode {seconds} s", str(channel.id))

    async def set_slow_mode(self, channel: Place, seconds: int, action: str) -> None:
        """Set ``rate_limit_per_user`` (Manage Channels; Manage Threads in a thread)."""
        thread = isinstance(channel, discord.Thread)
        attr, name = ("manage_threads", "Manage Threads") if thread else ("manage_channels", "Manage Channels")  # fmt: skip
        self.require(channel, attr, name, action)
        await self.guarded(channel.edit(slowmode_delay=seconds), name, action)

    async def _alert(self, decision: AlertModerators, key: str) -> ActionResult:
        community, guild = self.community(decision.conversation)
        channel = await self.moderators(community, guild)
        place = decision.conversation.place
        evidence = decision.evidence.message_ids
        links = {int(m): f"[{n}]({texts.link(guild.id, place, m)})"
                 for n, m in enumerate(evidence, 1) if m.isdigit()}  # fmt: skip
        summary = texts.humanize(decision.text, self.names(guild, decision.text) | links)
        unquoted = any(m not in decision.text for m in evidence)
        content = texts.alert_content(
            summary, f"<#{place}>", texts.evidence_links(guild.id, place, evidence) if unquoted else "",
            self.service.mode(community.key) if self.service else "live",
        )  # fmt: skip
        message = await self.send(channel, content, views.alert_view(key), key, "alert moderators")
        return ActionResult.sent(f"alert {message.id}", str(message.id))

    async def downgrade(
        self, decision: Decision, key: str, downgrade: DowngradeError
    ) -> ActionResult:
        """Tell the moderators what could not be done and why; DOWNGRADED once they are told."""
        community, guild = self.community(decision.conversation)
        channel = await self.moderators(community, guild)
        summary = self.humanize(guild, _summary(decision))
        place = f"<#{decision.conversation.place}>"
        content = texts.downgraded_content(downgrade.action, place, downgrade.problem, summary)
        message = await self.send(channel, content, views.alert_view(key), key, "alert moderators")
        log.warning("action_downgraded", action=downgrade.action, problem=downgrade.problem)
        return ActionResult(Status.DOWNGRADED, f"could not {downgrade.action}: "
                            f"{downgrade.problem}; moderators alerted", None, str(message.id))  # fmt: skip


def _summary(decision: Decision) -> str:
    if isinstance(decision, SetSlowMode):
        return f"Wanted: slow mode of {decision.seconds} s until {decision.until:%H:%M} UTC. {decision.reason}"
    if isinstance(decision, LiftSlowMode):
        return f"Wanted: lift the slow mode Longform set. {decision.reason}"
    return f"{decision.reason}\nWanted to post: {decision.text}"
