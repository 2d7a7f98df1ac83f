"""``!longform`` commands and the reactions that stand in for buttons.

How it works: a member writes ``!longform status|policy|mode [shadow|live]|why|optout`` in a
community's room (``why`` and ``optout`` also in the direct room with the bot); ``mode`` is for
moderators only (power level 50 or more, checked through the gateway at the time of asking). The
answer is a quiet reply to the command. ``why`` explains the notice (or message) the command
replies to. Reactions on a notice of Longform's: 👍 and 👎 are feedback on its decision, 📝
asks for a long-form room (moderators only: it opens a room for everyone in the thread); on the
offer of a long-form room (the policy asks consent first), 📝 from a participant accepts it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from adapters.matrix import translate
from adapters.matrix.gateway import HELPFUL, LONGFORM, WRONG, MatrixGateway
from bot.core.decisions import OpenLongformSpace
from bot.core.events import ConversationKey
from bot.core.requests import MemberRequested, ModeratorRequested, Requested
from bot.runtime.control import Control, ControlError
from bot.runtime.gateway import GatewayError, MemberRef, MessageRef, Place

log = structlog.get_logger()
UNDO_WAIT = 15.0  # seconds a command waits for its undo (the sync loop waits with it)
HELP = ("Longform commands: !longform status, !longform policy, !longform why (as a reply to a "
        "notice), !longform optout, and for moderators !longform mode shadow|live and "
        "!longform undo (as a reply to an alert).")  # fmt: skip


class Commands:
    """Answers commands and reactions; never raises (problems become the reply or a log line)."""

    def __init__(self, gateway: MatrixGateway, control: Control, rooms: Mapping[str, str]) -> None:
        self.gateway, self.control, self.rooms = gateway, control, rooms

    async def on_command(self, raw: translate.Event, room: str) -> None:
        """Answer the ``!longform`` command ``raw`` posted in ``room``."""
        words = (translate.body(raw.get("content", {})) or "").split()[1:]
        verb, args = (words[0].lower(), words[1:]) if words else ("help", [])
        handler = self._handlers().get(verb)
        try:
            answer = await handler(raw, room, args) if handler else HELP
        except ControlError as error:
            answer = str(error)
        await self._answer(raw, room, answer)

    def _handlers(self) -> dict[str, Callable[[Any, str, list[str]], Awaitable[str]]]:
        return {"status": self._status, "policy": self._policy, "mode": self._mode,
                "why": self._why, "optout": self._optout, "undo": self._undo,
                "help": self._help}  # fmt: skip

    def _community(self, room: str) -> str:
        community = self.rooms.get(room)
        if community is None:
            raise ControlError("Use this command in one of the community's rooms.")
        return community

    async def _help(self, raw: translate.Event, room: str, args: list[str]) -> str:
        return HELP

    async def _status(self, raw: translate.Event, room: str, args: list[str]) -> str:
        return await self.control.status(self._community(room))

    async def _policy(self, raw: translate.Event, room: str, args: list[str]) -> str:
        return await self.control.policy_summary(self._community(room))

    async def _mode(self, raw: translate.Event, room: str, args: list[str]) -> str:
        community = self._community(room)
        if not args:
            return f"Longform is in {self.control.mode(community)} mode here."
        if not await self._moderator(raw, room):
            return "Only moderators (power level 50 or more) can change Longform's mode."
        return await self.control.set_mode(community, args[0].lower())

    async def _why(self, raw: translate.Event, room: str, args: list[str]) -> str:
        replied = translate.reply_to(raw) or (translate.thread_of(raw) or None)
        if replied is None:
            return (
                "Reply to one of Longform's notices with “!longform why” to see why it was posted."
            )
        key = await self.gateway.notice_key(replied)
        if key is not None:
            member = str(raw["sender"])
            asked = MemberRequested(Requested.WHY, self._place(raw, room).conversation, member,
                                    member, translate.at(raw), str(raw["event_id"]),
                                    about=await self.control.decision(key))  # fmt: skip
            explained = (await self.control.answer(asked)).explanation
            return explained.text() if explained else "Longform did not act on that message."
        explained = await self.control.explain_message(translate.PLATFORM, replied)
        return explained.text() if explained else "Longform did not act on that message."

    async def _undo(self, raw: translate.Event, room: str, args: list[str]) -> str:
        """A moderator's ``!longform undo`` in reply to an alert (or notice) of Longform's."""
        replied = translate.reply_to(raw)
        key = await self.gateway.notice_key(replied) if replied else None
        if key is None:
            return "Reply to one of Longform's alerts with “!longform undo” to undo what it did."
        if not await self._moderator(raw, room):
            return "Only moderators (power level 50 or more) can undo what Longform did."
        decision = await self.control.decision(key)
        done = await self.control.undo(within=UNDO_WAIT, request=ModeratorRequested(
            Requested.UNDO, decision.conversation, str(raw["sender"]), translate.at(raw),
            message_id=str(raw["event_id"]), about=decision, about_key=key))  # fmt: skip
        return f"Undone: {done}."

    async def _optout(self, raw: translate.Event, room: str, args: list[str]) -> str:
        back = bool(args) and args[0].lower() in ("in", "back", "undo")
        member = str(raw["sender"])
        action = Requested.OPT_IN if back else Requested.OPT_OUT
        await self.control.answer(MemberRequested(
            action, self._place(raw, room).conversation, member, member, translate.at(raw),
            str(raw["event_id"]), scope=self.rooms.get(room, "")))  # fmt: skip
        if back:
            return "Longform may send you private notes again."
        return "Longform will send you no more private notes (“!longform optout undo” to undo)."

    async def on_reaction(self, raw: translate.Event, room: str) -> None:
        """Feedback or a long-form request from a reaction on one of Longform's notices."""
        related = translate.relation(raw)
        notice, emoji = str(related.get("event_id", "")), str(related.get("key", ""))
        key = await self.gateway.notice_key(notice)
        if key is None or emoji not in (HELPFUL, WRONG, LONGFORM):
            return
        try:
            if emoji == LONGFORM:
                await self._longform(raw, room, key, notice)
            else:
                await self.control.feedback(translate.PLATFORM, key, emoji == HELPFUL,
                                            str(raw["sender"]))  # fmt: skip
        except (ControlError, GatewayError) as error:
            log.info("matrix_reaction_not_done", room=room, problem=str(error))

    async def _longform(self, raw: translate.Event, room: str, key: str, notice: str) -> None:
        decision = await self.control.decision(key)
        if isinstance(decision, OpenLongformSpace):  # the notice is the offer of a room
            await self._consent(raw, room, decision, notice)
            return
        if not await self._moderator(raw, room):
            await self._answer(
                raw, room, "Only moderators can open a long-form room from a notice."
            )
            return
        # Keyed by the notice reacted to (bot.core.requests: every platform keys requests so).
        await self.control.ask(ModeratorRequested(
            Requested.LONGFORM, decision.conversation, str(raw["sender"]), translate.at(raw),
            message_id=notice, about=decision))  # fmt: skip

    async def _consent(
        self, raw: translate.Event, room: str, offer: OpenLongformSpace, notice: str
    ) -> None:
        """A participant (or a moderator) accepts the offer: the core opens the room."""
        member = str(raw["sender"])
        authors = {self.gateway.roster.authors.get(m) for m in offer.key_messages}
        if member not in (*offer.participants, *authors) and not await self._moderator(raw, room):
            await self._answer(
                raw, room, "Only the people in this conversation can accept the offer."
            )
            return
        await self.control.ask(MemberRequested(
            Requested.CONSENT, offer.conversation, member, member, translate.at(raw),
            message_id=notice, about=offer))  # fmt: skip

    async def _moderator(self, raw: translate.Event, room: str) -> bool:
        place = self._place(raw, room)
        rights = await self.gateway.rights(MemberRef(place.community, str(raw["sender"])), place)
        return rights.moderator

    def _place(self, raw: translate.Event, room: str) -> Place:
        """Where ``raw`` was posted (a direct room belongs to the community ``matrix:direct``)."""
        community = self.rooms.get(room, f"{translate.PLATFORM}:direct")
        return Place.of(ConversationKey(community, room, translate.thread_of(raw)))

    async def _answer(self, raw: translate.Event, room: str, text: str) -> None:
        place = self._place(raw, room)
        try:
            await self.gateway.reply(MessageRef(place, str(raw["event_id"])), text,
                                     f"answer.{raw['event_id']}")  # fmt: skip
        except GatewayError as error:
            log.warning("matrix_answer_failed", room=room, problem=error.detail)
