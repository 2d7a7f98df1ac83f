"""The bot's commands, registered with ``setMyCommands``: ``/status``, ``/mode``, ``/policy``,
``/why``, ``/optout``, ``/dashboard`` (a private sign-in link for group admins), and ``/start``
(which also opens a private prompt from its deep link).

In a served group, or in its moderators' chat, a command concerns that community. ``/mode`` changes
something, so only the group's admins may use it; the others only read. ``/why`` answers in reply to
a message: Longform's own notice (the decision behind it) or a member's message (what Longform did
about it). ``/optout`` in a group stops private notes for that group, in the private chat for every
group; ``/optout off`` undoes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from telegram import BotCommand, LinkPreviewOptions, Message, Update
from telegram.error import Forbidden
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from adapters.telegram import keyboards, texts
from adapters.telegram.buttons import Buttons
from adapters.telegram.community import PLATFORM, Community, message_ref, served_from
from adapters.telegram.errors import PLATFORM_ERRORS
from adapters.telegram.translate import reply_of
from bot.core.decisions import PromptMember
from bot.core.events import ConversationKey
from bot.core.requests import MemberRequested, Requested
from bot.runtime.control import ControlError

log = structlog.get_logger()
COMMANDS = (
    BotCommand("status", "What Longform is doing in this group"),
    BotCommand("mode", "Show or switch the mode: /mode shadow or /mode live (admins)"),
    BotCommand("policy", "The policy in force and its main thresholds"),
    BotCommand("why", "Reply to a message: why Longform acted on it"),
    BotCommand("optout", "Stop private notes from Longform (/optout off to undo)"),
    BotCommand("dashboard", "A private sign-in link to Longform's dashboard (group admins)"),
)
OUTSIDE = "Use this command in a group Longform serves (or in its moderators' chat)."
Command = Callable[["Commands", Message, list[str], Community | None], Awaitable[str]]


class Commands:
    """The command handlers; they share the buttons' gateway and control."""

    def __init__(self, buttons: Buttons) -> None:
        self.buttons = buttons
        self.gateway, self.control = buttons.gateway, buttons.control

    def handlers(self) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
        """One CommandHandler per command, ``/start`` included."""
        found: list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]] = []
        for name, command in _COMMANDS.items():
            found.append(CommandHandler(name, self._runner(command)))
        return found

    def _runner(
        self, command: Command
    ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
        async def run(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            message = update.effective_message
            if message is None or message.from_user is None:
                return
            community = served_from(message.chat_id, self.gateway.known)
            try:
                reply = await command(self, message, list(context.args or []), community)
            except ControlError as error:
                reply = str(error)
            except PLATFORM_ERRORS as error:
                log.warning("command_failed", problem=str(error))
                reply = "Telegram refused that just now; please try again in a moment."
            if reply:
                await message.reply_text(texts.clip(reply))

        return run

    async def status(self, message: Message, args: list[str], community: Community | None) -> str:
        """``/status``: mode, policy, and how much Longform is following."""
        return OUTSIDE if community is None else await self.control.status(community.key)

    async def policy(self, message: Message, args: list[str], community: Community | None) -> str:
        """``/policy``: the policy in force."""
        return OUTSIDE if community is None else await self.control.policy_summary(community.key)

    async def mode(self, message: Message, args: list[str], community: Community | None) -> str:
        """``/mode``: show the mode; ``/mode shadow|live`` switches it (admins of the group)."""
        if community is None:
            return OUTSIDE
        if not args:
            return await self.control.status(community.key)
        assert message.from_user is not None
        if not await self.buttons.is_admin(community.chat_id, message.from_user.id):
            return "Only admins of the group can change Longform's mode."
        return await self.control.set_mode(community.key, args[0].lower())

    async def why(self, message: Message, args: list[str], community: Community | None) -> str:
        """``/why`` in reply to a message: the decision behind it, or what Longform did about it."""
        replied, _ = reply_of(message)
        if community is None or replied is None or message.reply_to_message is None:
            return "Reply to a message with /why to see why Longform acted on it."
        target = message.reply_to_message
        key = self.gateway.message_keys.get((target.chat_id, target.message_id))
        if key is not None:
            explanation = await self.control.explain(key)
        else:
            found = await self.control.explain_message(
                PLATFORM, message_ref(target.chat_id, target.message_id)
            )
            if found is None:
                return "Longform did not act on that message."
            explanation = found
        return self.gateway.humanise(explanation.text(), _conversation_of(community))

    async def optout(self, message: Message, args: list[str], community: Community | None) -> str:
        """``/optout [off]``: no more private notes (in this group, or everywhere from private)."""
        assert message.from_user is not None
        back_in = bool(args) and args[0].lower() in ("off", "undo", "no")
        where = community.key if community is not None and message.chat.type != "private" else ""
        user = message.from_user
        here = ConversationKey(where or f"{PLATFORM}:private", str(message.chat.id))
        action = Requested.OPT_IN if back_in else Requested.OPT_OUT
        await self.control.answer(MemberRequested(action, here, str(user.id), user.first_name,
                                  self.control.now(), message_ref(message.chat.id,
                                  message.message_id), scope=where))  # fmt: skip
        scope = "in this group" if where else "in any group"
        if back_in:
            return f"Longform may send you private notes again {scope}."
        return f"Longform will send you no more private notes {scope}. Send /optout off to undo."

    async def dashboard(
        self, message: Message, args: list[str], community: Community | None
    ) -> str:
        """``/dashboard``: a one-time sign-in link, sent privately, for the groups the member
        administers (asked of Telegram for every served group). Never posted in a group."""
        user = message.from_user
        assert user is not None
        moderated = [c.key for c in self.gateway.known.values()
                     if await self._administers(c.chat_id, user.id)]  # fmt: skip
        if not moderated:
            return "Only admins of a group Longform serves can open the dashboard."
        link = await self.control.dashboard_link(PLATFORM, str(user.id), moderated, user.full_name)
        try:
            await self.gateway.bot.send_message(
                user.id, texts.dashboard_link(link, len(moderated)),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )  # fmt: skip
        except Forbidden:
            return texts.DASHBOARD_START_FIRST
        return "" if message.chat.type == "private" else texts.DASHBOARD_SENT

    async def _administers(self, chat_id: int, user_id: int) -> bool:
        try:
            return await self.buttons.is_admin(chat_id, user_id)
        except PLATFORM_ERRORS:  # not a member there, or the group is gone: not theirs
            return False

    async def start(self, message: Message, args: list[str], community: Community | None) -> str:
        """``/start [p<key>]`` in private: deliver the private prompt the deep link points to."""
        if message.chat.type != "private":
            return ""
        key = keyboards.key_from_start(args[0]) if args else None
        if key is None:
            return texts.WELCOME
        decision = await self.control.decision(key)
        user = message.from_user
        assert user is not None
        if not isinstance(decision, PromptMember):
            return texts.GONE  # only an audit line is left of it
        if decision.member != str(user.id):
            return texts.NOT_YOURS
        await self.gateway.send_prompt(user.id, decision, key)
        return ""


def _conversation_of(community: Community) -> ConversationKey:
    return ConversationKey(community.key, str(community.chat_id))


_COMMANDS: dict[str, Command] = {
    "status": Commands.status,
    "mode": Commands.mode,
    "policy": Commands.policy,
    "why": Commands.why,
    "optout": Commands.optout,
    "start": Commands.start,
    "dashboard": Commands.dashboard,
}
