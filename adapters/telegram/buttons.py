"""What pressing an inline button does. The callback data carries the decision's key; the decision
itself comes back through ``Control``.

Member buttons (under notices and private prompts): "Why?" answers with an alert, to the member
who pressed, showing the reason and what it rests on; "Not helpful" records feedback; "Continue in
long form" asks for a long-form space (or says where the open one is). Moderator buttons (under
alerts): acknowledge, mark wrong, open long form, slow down, undo; each first checks that whoever
pressed is an admin of the community's group. Every press is answered, also when it fails, so the
member's client stops its spinner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from telegram import CallbackQuery, Message, Update
from telegram.ext import ContextTypes

from adapters.telegram import keyboards, texts
from adapters.telegram.community import PLATFORM, message_ref, place
from adapters.telegram.errors import PLATFORM_ERRORS
from adapters.telegram.gateway import ADMIN_STATUSES, TelegramGateway
from adapters.telegram.keyboards import Press
from bot.core.decisions import Decision
from bot.core.requests import MemberRequested, ModeratorRequested, Requested
from bot.core.responses import minutes_text
from bot.runtime.control import Control, ControlError

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Answer:
    """How to answer a press: a toast, or an alert the member must dismiss."""

    text: str
    alert: bool = False


Handler = Callable[["Buttons", CallbackQuery, Decision, str], Awaitable[Answer]]


# A callback query must be answered within seconds (then it is "too old"): a slower undo is
# reported as queued, and still done.
UNDO_WAIT = 10.0


class Buttons:
    """The callback-query handler; one per adapter."""

    def __init__(self, gateway: TelegramGateway, control: Control) -> None:
        self.gateway, self.control = gateway, control

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB callback: decode, check, act, answer."""
        query = update.callback_query
        if query is None:
            return
        pressed = keyboards.parse(query.data)
        if pressed is None:
            await query.answer()
            return
        try:
            answer = await self._act(query, pressed.press, pressed.key)
        except ControlError as error:
            answer = Answer(str(error), alert=True)
        except PLATFORM_ERRORS as error:
            log.warning("button_failed", press=pressed.press.name, problem=str(error))
            answer = Answer("Telegram refused that just now; please try again in a moment.", True)
        await query.answer(texts.clip(answer.text, texts.ALERT_LIMIT), show_alert=answer.alert)

    async def _act(self, query: CallbackQuery, press: Press, key: str) -> Answer:
        decision = await self.control.decision(key)
        chat, _ = place(decision.conversation)
        if press.for_moderators and not await self.is_admin(chat, query.from_user.id):
            group = self.gateway.roster.titles.get(chat, "the group")
            return Answer(f"Only admins of {group} can use these buttons.", alert=True)
        return await _HANDLERS[press](self, query, decision, key)

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether ``user_id`` administers ``chat_id`` now (asked of Telegram at every press)."""
        member = await self.gateway.bot.get_chat_member(chat_id, user_id)
        return member.status in ADMIN_STATUSES

    # -- member buttons -----------------------------------------------------------------------

    async def why(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """The reason, what it rests on and the strongest scores, to the member who asked."""
        user = query.from_user
        asked = MemberRequested(Requested.WHY, decision.conversation, str(user.id),
                                user.first_name, self.control.now(), _pressed(query, decision),
                                about=decision)  # fmt: skip
        explanation = (await self.control.answer(asked)).explanation
        if explanation is None:
            return Answer("Longform did not act on that message.", alert=True)
        count = len(explanation.evidence)
        scores = ", ".join(f"{name} {value:.2f}" for name, value in explanation.scores[:2])
        text = texts.lines([
            self.gateway.humanise(explanation.reason, decision.conversation),
            f"Based on {count} message(s) in this conversation" + (f"; {scores}." if scores else "."),
            "Longform never removes anything; moderators decide.",
        ])  # fmt: skip
        return Answer(text, alert=True)

    async def not_helpful(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """Record that this notice did not help."""
        await self.control.feedback(PLATFORM, key, helpful=False, by=str(query.from_user.id))
        return Answer("Thanks: noted that this was not helpful.")

    async def continue_longform(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """Open a long-form space for the conversation, unless one is already open."""
        if decision.conversation in self.gateway.spaces.by_conversation:
            return Answer("The long-form space is already open: the link is in this conversation.")
        user = query.from_user
        await self.control.ask(MemberRequested(Requested.LONGFORM, decision.conversation,
                                               str(user.id), user.first_name,
                                               self.control.now(), _pressed(query, decision),
                                               decision))  # fmt: skip
        return Answer("Opening a long-form space; the link will appear here.")

    # -- moderator buttons --------------------------------------------------------------------

    async def acknowledge(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """Mark the alert as seen by this moderator (the button goes away)."""
        await self.control.acknowledge(PLATFORM, key)  # time to acknowledgement (issue 17)
        message = query.message
        if isinstance(message, Message) and message.text:
            text = f"{message.text}\n\nAcknowledged by {query.from_user.first_name}."
            await query.edit_message_text(
                texts.clip(text), reply_markup=keyboards.alert(key, acknowledged=True)
            )
        return Answer("Acknowledged.")

    async def wrong(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """Record that Longform got this wrong (it counts in the moderators' precision)."""
        await self.control.feedback(PLATFORM, key, helpful=False, by=str(query.from_user.id))
        return Answer("Recorded: Longform got this wrong. Thank you.")

    async def open_longform(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """A moderator moves the conversation to long form."""
        await self.control.ask(_moderator(query, decision, Requested.LONGFORM, self.control))
        return Answer("Opening a long-form space.")

    async def slow_down(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """A moderator slows the conversation down, as the policy's slow mode says."""
        conversation = decision.conversation
        slow = self.control.settings(conversation.community, conversation.channel).slow_mode
        await self.control.ask(_moderator(query, decision, Requested.SLOW_DOWN, self.control))
        return Answer(f"Slowing it down for {minutes_text(slow.minutes)}.")

    async def undo(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """End Longform's slow mode there and remove its notices; recorded in the audit."""
        request = _moderator(query, decision, Requested.UNDO, self.control, key)
        try:
            done = await self.control.undo(request, within=UNDO_WAIT)
        except ControlError as error:
            return Answer(str(error), alert=True)
        return Answer(f"Undone: {done}.", alert=True)


def _pressed(query: CallbackQuery, decision: Decision) -> str:
    """The message whose button was pressed, as a message ref (see ``bot.core.requests``)."""
    message = query.message
    if message is None:
        return decision.message_id
    return message_ref(message.chat.id, message.message_id)


def _moderator(
    query: CallbackQuery, decision: Decision, action: Requested, control: Control, key: str = ""
) -> ModeratorRequested:
    """The request an admin made from the alert of ``decision`` (outbox key ``key``)."""
    return ModeratorRequested(action, decision.conversation, query.from_user.first_name,
                              control.now(), _pressed(query, decision), decision,
                              about_key=key)  # fmt: skip


_HANDLERS: dict[Press, Handler] = {
    Press.WHY: Buttons.why,
    Press.NOT_HELPFUL: Buttons.not_helpful,
    Press.LONGFORM: Buttons.continue_longform,
    Press.ACKNOWLEDGE: Buttons.acknowledge,
    Press.WRONG: Buttons.wrong,
    Press.OPEN_LONGFORM: Buttons.open_longform,
    Press.SLOW_DOWN: Buttons.slow_down,
    Press.UNDO: Buttons.undo,
}
