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
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog
from telegram import CallbackQuery, ChatMember, Message, Update
from telegram.ext import ContextTypes

from adapters.telegram import keyboards, texts
from adapters.telegram.community import PLATFORM, place
from adapters.telegram.errors import PLATFORM_ERRORS
from adapters.telegram.execute import TelegramExecutor
from adapters.telegram.keyboards import Press
from bot.core.decisions import Decision, OpenLongformSpace
from bot.core.responses import minutes_text
from bot.runtime.control import Control, ControlError, moderator_longform, moderator_slow_mode

log = structlog.get_logger()
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})


@dataclass(frozen=True, slots=True)
class Answer:
    """How to answer a press: a toast, or an alert the member must dismiss."""

    text: str
    alert: bool = False


Handler = Callable[["Buttons", CallbackQuery, Decision, str], Awaitable[Answer]]


class Buttons:
    """The callback-query handler; one per adapter."""

    def __init__(self, executor: TelegramExecutor, control: Control) -> None:
        self.executor, self.control = executor, control

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
            group = self.executor.roster.titles.get(chat, "the group")
            return Answer(f"Only admins of {group} can use these buttons.", alert=True)
        return await _HANDLERS[press](self, query, decision, key)

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether ``user_id`` administers ``chat_id`` now (asked of Telegram at every press)."""
        member = await self.executor.bot.get_chat_member(chat_id, user_id)
        return member.status in ADMIN_STATUSES

    # -- member buttons -----------------------------------------------------------------------

    async def why(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """The reason, what it rests on and the strongest scores, to the member who asked."""
        explanation = await self.control.explain(key)
        count = len(explanation.evidence)
        scores = ", ".join(f"{name} {value:.2f}" for name, value in explanation.scores[:2])
        text = texts.lines([
            self.executor.humanise(explanation.reason, decision.conversation),
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
        if decision.conversation in self.executor.spaces.by_conversation:
            return Answer("The long-form space is already open: the link is in this conversation.")
        await self.control.request(
            self._longform(decision, query.from_user.first_name, member=True)
        )
        return Answer("Opening a long-form space; the link will appear here.")

    def _longform(self, decision: Decision, by: str, member: bool = False) -> OpenLongformSpace:
        """The long-form space for ``decision``'s conversation, asked for by ``by``."""
        conversation = decision.conversation
        service = self.executor.service
        settings = service.settings(conversation.community, conversation.channel).longform
        title = settings.title.replace("{topic}", conversation.thread or conversation.channel)
        made = moderator_longform(conversation, decision.message_id, by, title, settings.template,
                                  service.now())  # fmt: skip
        made = replace(made, key_messages=decision.evidence.message_ids or made.key_messages)
        if not member:
            return made
        return replace(made, reason=f"A participant ({by}) asked to continue in long form.",
                       text="A participant asked to continue this discussion in long form.")  # fmt: skip

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
        await self.control.request(self._longform(decision, query.from_user.first_name))
        return Answer("Opening a long-form space.")

    async def slow_down(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """A moderator slows the conversation down, as the policy's slow mode says."""
        conversation = decision.conversation
        slow = self.executor.service.settings(
            conversation.community, conversation.channel
        ).slow_mode
        until = self.executor.service.now() + timedelta(minutes=slow.minutes)
        await self.control.request(moderator_slow_mode(decision, slow.seconds, until))
        return Answer(f"Slowing it down for {minutes_text(slow.minutes)}.")

    async def undo(self, query: CallbackQuery, decision: Decision, key: str) -> Answer:
        """End Longform's slow mode there and remove its notices; recorded in the audit."""
        done = await self.executor.undo(decision.conversation)
        await self.control.record_undone(key, by=str(query.from_user.id), detail=done)
        return Answer(f"Undone: {done}.", alert=True)


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
