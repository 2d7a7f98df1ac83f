"""What clicking a Longform button does. Every answer a member gets is ephemeral.

Members' buttons: "Why am I seeing this?" (the reason and the evidence, as links; members are
named only to moderators and to the member a private note was for), "This wasn't helpful" (feedback), "Continue in
long form" and "Yes, open a long-form space" (a space a person asked for, through the outbox),
"Show my note" (a private prompt whose DM could not be delivered, shown to its member only) and
"No more private notes" (opt-out). Moderators' buttons, checked against the clicker's permissions:
acknowledge, mark wrong, open long form, set slow mode, undo. A button never raises: errors become
a short ephemeral answer and a log line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace

import discord
import structlog

from adapters.discord import texts
from adapters.discord.community import PLATFORM
from adapters.discord.errors import PLATFORM_ERRORS, DowngradeError, UnresolvedError
from adapters.discord.gateway import DiscordGateway
from adapters.discord.longform import existing_space
from adapters.discord.runtime_view import ServiceView
from bot.core.decisions import Decision, OpenLongformSpace, PromptMember
from bot.core.requests import MemberRequested, ModeratorRequested, Requested
from bot.runtime.control import Control, ControlError

log = structlog.get_logger()
Handler = Callable[[discord.Interaction, str], Awaitable[None]]
MODERATOR_ACTIONS = frozenset({"ack", "wrong", "mlongform", "mslow", "undo"})
NOT_FOR_YOU = "This note is for another member; nothing is needed from you."
_ANSWER_FAILED = "Longform could not do that just now; the moderators can see why in its logs."


def is_moderator(interaction: discord.Interaction) -> bool:
    """True if the clicker may manage messages, threads or the server where they clicked."""
    perms = interaction.permissions
    return perms.manage_guild or perms.manage_messages or perms.manage_threads


def who(interaction: discord.Interaction) -> tuple[str, str]:
    """(id, display name) of the member who clicked or ran a command."""
    return str(interaction.user.id), interaction.user.display_name


async def reply(interaction: discord.Interaction, text: str) -> None:
    """Answer ``interaction`` ephemerally, as its response or as a followup if already answered."""
    if interaction.response.is_done():
        await interaction.followup.send(texts.clip(text), ephemeral=True)
    else:
        await interaction.response.send_message(texts.clip(text), ephemeral=True)


class Buttons:
    """The client's ``buttons`` handler (see ``views.ButtonHandler``)."""

    def __init__(self, gateway: DiscordGateway, control: Control) -> None:
        self.gateway, self.control = gateway, control
        self.service = ServiceView(control)
        self._handlers: dict[str, Handler] = {
            "why": self._why, "unhelpful": self._unhelpful, "optout": self._optout,
            "note": self._note, "longform": self._longform, "consent": self._consent,
            "ack": self._ack, "wrong": self._wrong, "mlongform": self._moderator_longform,
            "mslow": self._moderator_slow_mode, "undo": self._undo,
        }  # fmt: skip

    async def on_button(self, interaction: discord.Interaction, action: str, key: str) -> None:
        """Run the button's handler; answer every problem ephemerally, never raise."""
        handler = self._handlers.get(action)
        try:
            if handler is None:
                await reply(interaction, "This button no longer does anything.")
            elif action in MODERATOR_ACTIONS and not is_moderator(interaction):
                await reply(interaction, "Only moderators can use this button.")
            else:
                await handler(interaction, key)
        except ControlError as error:
            await self._safely(reply(interaction, str(error)))
        except (*PLATFORM_ERRORS, UnresolvedError, DowngradeError) as error:
            log.warning("button_failed", action=action, problem=str(error))
            await self._safely(reply(interaction, _ANSWER_FAILED))
        except RuntimeError:  # aiohttp's "Session is closed": the client is shutting down
            if not self.gateway.client.is_closed():
                raise

    async def _safely(self, answering: Awaitable[None]) -> None:
        with contextlib.suppress(*PLATFORM_ERRORS):
            await answering

    # -- members ------------------------------------------------------------------------------------

    async def _why(self, interaction: discord.Interaction, key: str) -> None:
        decision = await self.control.decision(key)
        answered = await self.control.answer(
            self._member_request(interaction, Requested.WHY, decision)
        )
        explanation = answered.explanation
        if explanation is None:
            await reply(interaction, "Longform did not act on that message.")
            return
        _, guild = self.gateway.community(decision.conversation)
        own = isinstance(decision, PromptMember) and decision.member == who(interaction)[0]
        redact = not (own or is_moderator(interaction))  # members never see who did what
        place = decision.conversation.place
        links = texts.evidence_links(guild.id, place, explanation.evidence)
        reason = self.gateway.humanize(guild, explanation.reason, redact)
        await reply(interaction, texts.explanation(reason, links, explanation.scores))

    async def _unhelpful(self, interaction: discord.Interaction, key: str) -> None:
        await self.control.feedback(PLATFORM, key, helpful=False, by=who(interaction)[0])
        await reply(interaction, "Thanks, noted: this helps the moderators tune Longform.")

    async def _optout(self, interaction: discord.Interaction, key: str) -> None:
        decision = await self.control.decision(key)
        request = self._member_request(interaction, Requested.OPT_OUT, decision)
        await self.control.answer(replace(request, scope=decision.conversation.community))
        await reply(interaction, "Done: Longform will send you no more private notes here. "
                    "`/longform optout enabled:False` turns them back on.")  # fmt: skip

    def _member_request(
        self, interaction: discord.Interaction, action: Requested, decision: Decision
    ) -> MemberRequested:
        """What a member asked by a button on Longform's message about ``decision``."""
        member, name = who(interaction)
        clicked = str(interaction.message.id) if interaction.message else decision.message_id
        return MemberRequested(action, decision.conversation, member, name, self.service.now(),
                               clicked, about=decision)  # fmt: skip

    async def _note(self, interaction: discord.Interaction, key: str) -> None:
        decision = await self.control.decision(key)
        if not isinstance(decision, PromptMember) or decision.member != who(interaction)[0]:
            await reply(interaction, NOT_FOR_YOU)
            return
        _, guild = self.gateway.community(decision.conversation)
        await reply(interaction, self.gateway.humanize(guild, decision.text))

    async def _longform(self, interaction: discord.Interaction, key: str) -> None:
        notice = await self.control.decision(key)
        space = await existing_space(self.gateway, notice.conversation)
        if space is not None:
            await reply(interaction, f"This conversation already continues here: {space.jump_url}")
            return
        await self._request_space(interaction, notice)

    async def _request_space(self, interaction: discord.Interaction, notice: Decision) -> None:
        clicked = str(interaction.message.id) if interaction.message else notice.message_id
        member, name = who(interaction)
        await self.control.ask(MemberRequested(Requested.LONGFORM, notice.conversation, member,
                                               name, self.service.now(), clicked, notice))  # fmt: skip
        await reply(interaction, "Opening a long-form space: a link will appear here shortly.")

    async def _consent(self, interaction: discord.Interaction, key: str) -> None:
        offer = await self.control.decision(key)
        if not isinstance(offer, OpenLongformSpace):
            raise ControlError("This offer is no longer open.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        member, name = who(interaction)
        if not (is_moderator(interaction) or member in await self._participants(offer)):
            await reply(interaction, "Only the people in this conversation can accept the offer.")
            return
        clicked = str(interaction.message.id) if interaction.message else offer.message_id
        await self.control.ask(MemberRequested(Requested.CONSENT, offer.conversation, member,
                                               name, self.service.now(), clicked, offer))  # fmt: skip
        await reply(interaction, "Thank you: opening a long-form space; a link will appear here.")

    async def _participants(self, offer: OpenLongformSpace) -> set[str]:
        """The members who may accept an offer: its participants and the key messages' authors."""
        found = set(offer.participants)
        _, _, channel = await self.gateway.place(offer.conversation)
        for message_id in [m for m in offer.key_messages if m.isdigit()][:5]:
            with contextlib.suppress(discord.NotFound, discord.Forbidden):
                message = await self.gateway.call(channel.fetch_message(int(message_id)))
                found.add(str(message.author.id))
        return found

    # -- moderators ---------------------------------------------------------------------------------

    async def _note_on_alert(self, interaction: discord.Interaction, line: str) -> None:
        """Append ``line`` to the alert that was clicked (its buttons stay)."""
        content = interaction.message.content if interaction.message else ""
        new = texts.clip(f"{content}\n{line}")
        if interaction.response.is_done():
            await interaction.edit_original_response(content=new)
        else:
            await interaction.response.edit_message(content=new)

    async def _ack(self, interaction: discord.Interaction, key: str) -> None:
        await self.control.decision(key)  # a ControlError if it is too old to know
        await self.control.acknowledge(PLATFORM, key)  # time to acknowledgement (issue 17)
        await self._note_on_alert(interaction, f"Acknowledged by {who(interaction)[1]}.")

    async def _wrong(self, interaction: discord.Interaction, key: str) -> None:
        member, name = who(interaction)
        await self.control.feedback(PLATFORM, key, helpful=False, by=member)
        await self._note_on_alert(interaction, f"Marked wrong by {name}; recorded as feedback.")

    async def _moderator_longform(self, interaction: discord.Interaction, key: str) -> None:
        name = who(interaction)[1]
        await self.control.ask(await self._moderator_request(interaction, key, Requested.LONGFORM))
        await self._note_on_alert(interaction, f"Long-form space requested by {name}.")

    async def _moderator_slow_mode(self, interaction: discord.Interaction, key: str) -> None:
        request = await self._moderator_request(interaction, key, Requested.SLOW_DOWN)
        conversation = request.conversation
        slow = self.service.settings(conversation.community, conversation.channel).slow_mode
        await self.control.ask(request)
        line = (
            f"Slow mode ({slow.seconds} s for {slow.minutes:g} min) set by {who(interaction)[1]}."
        )
        await self._note_on_alert(interaction, line)

    async def _moderator_request(
        self, interaction: discord.Interaction, key: str, action: Requested
    ) -> ModeratorRequested:
        """The request a moderator made from the alert of decision ``key``, keyed by the alert
        message (see ``bot.core.requests`` on keys)."""
        decision = await self.control.decision(key)
        clicked = str(interaction.message.id) if interaction.message else decision.message_id
        return ModeratorRequested(action, decision.conversation, who(interaction)[1],
                                  self.service.now(), clicked, decision, about_key=key)  # fmt: skip

    async def _undo(self, interaction: discord.Interaction, key: str) -> None:
        await interaction.response.defer()
        request = await self._moderator_request(interaction, key, Requested.UNDO)
        try:
            done = await self.control.undo(request)
        except ControlError as error:
            done = f"could not finish: {error}"
        await self._note_on_alert(interaction, f"Undone by {who(interaction)[1]}: {done}.")
