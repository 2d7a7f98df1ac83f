"""The ``/longform`` slash commands. Every answer is ephemeral.

Moderators (Manage Server, Manage Messages or Manage Threads): ``status``, ``policy show``,
``move`` (open a long-form space for the current thread by hand) and ``dashboard`` (a one-time
sign-in link to the dashboard, scoped to every configured guild they moderate). Admins (Manage Server): ``mode
shadow|live`` and ``policy reload``. Everyone: ``why`` (why Longform acted on a message, given its
link or id) and ``optout`` (no more private notes; ``enabled:False`` to have them again). The
commands are registered per configured guild at start-up, so they appear at once.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Literal

import discord
import structlog
from discord import app_commands

from adapters.discord import texts
from adapters.discord.buttons import is_moderator, reply, who
from adapters.discord.community import PLATFORM, Community
from adapters.discord.errors import PLATFORM_ERRORS
from adapters.discord.gateway import DiscordGateway
from adapters.discord.runtime_view import ServiceView
from adapters.discord.translate import place
from bot.core.events import ConversationKey
from bot.core.requests import MemberRequested, ModeratorRequested, Requested
from bot.runtime.control import Control, ControlError

log = structlog.get_logger()
_LINK = re.compile(r"(?:channels/\d+/(?P<channel>\d+)/)?(?P<message>\d{15,21})\s*$")
_HOW_TO_WHY = (
    "Give `/longform why` a message's link (More > Copy Message Link) or id, and Longform says "
    "whether and why it acted on it."
)


class LongformCommands(app_commands.Group):
    """``/longform ...``, answered through ``Control``."""

    def __init__(self, gateway: DiscordGateway, control: Control) -> None:
        super().__init__(name="longform", description="Longform: slower, structured discussion",
                         guild_only=True)  # fmt: skip
        self.gateway, self.control, self.service = gateway, control, ServiceView(control)

    async def _answer(
        self,
        interaction: discord.Interaction,
        work: Callable[[Community], Awaitable[str]],
        allowed: Callable[[discord.Interaction], bool] = lambda _: True,
        needs: str = "",
    ) -> None:
        """Reply with what ``work`` returns, after the permission check; never raise."""
        community = self.gateway.known.get(interaction.guild_id or 0)
        try:
            if community is None:
                await reply(interaction, "Longform is not set up for this server.")
            elif not allowed(interaction):
                await reply(interaction, f"This command needs the {needs} permission.")
            else:
                await reply(interaction, await work(community))
        except ControlError as error:
            await reply(interaction, str(error))
        except PLATFORM_ERRORS as error:
            log.warning("command_failed", problem=str(error))
            with contextlib.suppress(*PLATFORM_ERRORS):
                await reply(interaction, "Longform could not do that just now.")

    @app_commands.command(description="What Longform is doing in this server.")
    async def status(self, interaction: discord.Interaction) -> None:
        async def work(community: Community) -> str:
            return await self.control.status(community.key)

        await self._answer(interaction, work, is_moderator, "Manage Messages")

    @app_commands.command(description="Shadow: only tell moderators. Live: act in threads too.")
    @app_commands.describe(mode="shadow or live")
    async def mode(self, interaction: discord.Interaction, mode: Literal["shadow", "live"]) -> None:
        async def work(community: Community) -> str:
            return await self.control.set_mode(community.key, mode)

        await self._answer(interaction, work, _is_admin, "Manage Server")

    @app_commands.command(description="Show the policy in force, or reload it from the config.")
    @app_commands.describe(action="show (moderators) or reload (Manage Server)")
    async def policy(
        self, interaction: discord.Interaction, action: Literal["show", "reload"] = "show"
    ) -> None:
        async def work(community: Community) -> str:
            if action == "show":
                return await self.control.policy_summary(community.key)
            problems = await self.control.reload_policy()
            if problems:
                return "The new policy was rejected; the old one stays:\n" + "\n".join(problems)
            return "Policy reloaded. " + await self.control.policy_summary(community.key)

        check, needs = (is_moderator, "Manage Messages") if action == "show" else (_is_admin, "Manage Server")  # fmt: skip
        await self._answer(interaction, work, check, needs)

    @app_commands.command(description="Move this thread to a long-form space (moderators).")
    @app_commands.describe(title="The post's title (default: from the policy and this thread)")
    async def move(self, interaction: discord.Interaction, title: str | None = None) -> None:
        async def work(community: Community) -> str:
            conversation = _conversation(community, interaction.channel)
            last = getattr(interaction.channel, "last_message_id", None) or interaction.id
            await self.control.ask(ModeratorRequested(Requested.LONGFORM, conversation,
                                                      who(interaction)[1], self.service.now(),
                                                      str(last), title=title or ""))  # fmt: skip
            return "Opening a long-form space for this thread; a link will appear here shortly."

        await self._answer(interaction, work, is_moderator, "Manage Messages")

    @app_commands.command(description="A private one-time link to Longform's dashboard.")
    async def dashboard(self, interaction: discord.Interaction) -> None:
        async def work(community: Community) -> str:
            user_id, name = who(interaction)
            moderated = [community.key, *self._moderated_elsewhere(interaction)]
            link = await self.control.dashboard_link(PLATFORM, user_id, moderated, name)
            return texts.dashboard_link(link, len(moderated))

        await self._answer(interaction, work, is_moderator, "Manage Messages")

    def _moderated_elsewhere(self, interaction: discord.Interaction) -> list[str]:
        """The other configured guilds where Discord says the member may moderate."""
        found = []
        for guild_id, other in self.gateway.known.items():
            guild = self.gateway.client.get_guild(guild_id)
            member = None if guild is None else guild.get_member(interaction.user.id)
            if guild_id == interaction.guild_id or member is None:
                continue
            perms = member.guild_permissions
            if perms.manage_guild or perms.manage_messages or perms.manage_threads:
                found.append(other.key)
        return found

    @app_commands.command(description="Why did Longform act on a message?")
    @app_commands.describe(message="The message's link or id")
    async def why(self, interaction: discord.Interaction, message: str | None = None) -> None:
        async def work(community: Community) -> str:
            found = _LINK.search(message or "")
            if found is None:
                return _HOW_TO_WHY
            explanation = await self.control.explain_message(PLATFORM, found["message"])
            if explanation is None:
                return "Longform did not act on that message."
            guild = interaction.guild
            reason = explanation.reason
            if guild is not None:
                reason = self.gateway.humanize(guild, reason, redact=not is_moderator(interaction))
            channel = found["channel"]
            links = "" if channel is None else texts.evidence_links(community.guild_id, channel,
                                                                    explanation.evidence)  # fmt: skip
            return texts.explanation(reason, links, explanation.scores)

        await self._answer(interaction, work)

    @app_commands.command(description="Stop (or restart) Longform's private notes to you here.")
    @app_commands.describe(enabled="True: no more private notes. False: receive them again.")
    async def optout(self, interaction: discord.Interaction, enabled: bool = True) -> None:
        async def work(community: Community) -> str:
            member, name = who(interaction)
            here = ConversationKey(community.key, str(interaction.channel_id or ""))
            action = Requested.OPT_OUT if enabled else Requested.OPT_IN
            await self.control.answer(MemberRequested(action, here, member, name,
                                      self.service.now(), str(interaction.id),
                                      scope=community.key))  # fmt: skip
            if enabled:
                return "Done: Longform will send you no more private notes in this server."
            return "Done: Longform may send you private notes again in this server."

        await self._answer(interaction, work)


def _is_admin(interaction: discord.Interaction) -> bool:
    return interaction.permissions.manage_guild


def _conversation(community: Community, channel: object) -> ConversationKey:
    where = place(channel)
    if where is None:
        raise ControlError("Run this in a text channel, thread or forum post.")
    parent, thread = where
    return ConversationKey(community.key, str(parent), "" if thread is None else str(thread))


class LongformTree(app_commands.CommandTree[discord.Client]):
    """A command tree whose errors are logged by Longform, not raised into discord.py's logs."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.warning("command_error", problem=str(error))
        # Shutting down closes the session under a running command: nothing left to answer.
        with contextlib.suppress(*PLATFORM_ERRORS, RuntimeError):
            if not interaction.response.is_done():
                await reply(interaction, "Longform could not run that command.")
