"""Core decisions -> Bot API calls, with every outcome an ``ActionResult``.

How it works: ``TelegramExecutor.execute`` resolves the decision's group (and forum topic) and makes
the calls. A notice is a reply with inline buttons; a private prompt goes to the member's private
chat, or, when Telegram answers 403 (the member never started the bot, or blocked it), becomes a
neutral public notice whose ``t.me/<bot>?start=<payload>`` button opens it privately (DOWNGRADED).
Slow mode is emulated (``slowmode``) or asked of the admins, as the policy says; a long-form space is
a forum topic (``longform``); alerts go to the moderators' chat with their buttons. What cannot be
done here (no forum, no right to restrict) is downgraded to a moderators' note that says what to
change. Other errors become a FAILED result: a retry time for 429 (Telegram's ``retry_after``),
timeouts and network trouble, none for 400/403. The Bot API has no idempotency key, so a key already done
(recorded in the pipeline's step store) is not done twice, and a long-form opening resumes where a
retry left it.
"""

from __future__ import annotations

import re
from typing import TypeVar

import structlog
from telegram import Bot, InlineKeyboardMarkup, Message, ReplyParameters

from adapters.telegram import keyboards, texts
from adapters.telegram.community import (
    Community,
    Known,
    chat_number,
    community_of,
    message_ref,
    parse_message_ref,
    place,
)
from adapters.telegram.errors import (
    PLATFORM_ERRORS,
    DowngradeError,
    UnresolvedError,
    cannot_reach_member,
    failure,
)
from adapters.telegram.longform import LongformSpaces
from adapters.telegram.roster import Roster
from adapters.telegram.service import Emulation, Service, emulation
from adapters.telegram.slowmode import SlowModes, Spell, new_spell, spell_key
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
K = TypeVar("K")
V = TypeVar("V")
_NUMBER = re.compile(r"(?<![\w:\-])-?\d+(?![\w:])")
_REMEMBERED = 10_000  # keys done, notices and message keys kept in memory (oldest dropped first)


def _keep(table: dict[K, V], key: K, value: V) -> None:
    """Insert into a bounded table: the oldest entries go beyond ``_REMEMBERED``."""
    table[key] = value
    while len(table) > _REMEMBERED:
        del table[next(iter(table))]


class TelegramExecutor:
    """Carries out decisions with an initialized Bot (``bot.username`` must be known)."""

    def __init__(self, bot: Bot, known: Known, roster: Roster, service: Service,
                 default_emulation: Emulation = "restrict",
                 steps: StepStore | None = None) -> None:  # fmt: skip
        self.bot, self.known, self.roster, self.service = bot, known, roster, service
        self.default_emulation: Emulation = default_emulation
        self.slow = SlowModes(bot, roster, service)
        # The pipeline's record of what each key did, so a retry does not act twice.
        self.steps: StepStore = steps if steps is not None else MemorySteps()
        self.spaces = LongformSpaces(bot, roster, self.steps)
        self.notices: dict[ConversationKey, list[int]] = {}  # our notices there (for undo)
        self.message_keys: dict[tuple[int, int], str] = {}  # (chat, our message) -> decision key

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Carry out ``decision``; never raises for a platform error."""
        done = await recorded(self.steps, key)
        if done is not None:
            return done
        try:
            result = await self._dispatch(decision, key)
        except DowngradeError as error:
            result = await self._downgrade(decision, error)
        except UnresolvedError as error:
            result = ActionResult.failed(str(error))
        except PLATFORM_ERRORS as error:
            result = failure(error)
        await record(self.steps, key, result)
        return result

    async def _dispatch(self, decision: Decision, key: str) -> ActionResult:
        community = self.community(decision.conversation.community)
        if isinstance(decision, PostNotice):
            return await self._notice(decision, key)
        if isinstance(decision, PromptMember):
            return await self._prompt(decision, key)
        if isinstance(decision, SetSlowMode):
            return await self._set_slow_mode(decision, key, community)
        if isinstance(decision, LiftSlowMode):
            return await self._lift_slow_mode(decision, community)
        if isinstance(decision, OpenLongformSpace):
            return await self._open_longform(decision, key, community)
        return await self._alert(decision, key, community)

    def community(self, community: str) -> Community:
        """The configured group behind a core community id; UnresolvedError if there is none."""
        found = community_of(community, self.known)
        if found is None:
            raise UnresolvedError(f"{community} is not a Telegram group in the config")
        return found

    # -- texts --------------------------------------------------------------------------------

    def humanise(self, text: str, conversation: ConversationKey) -> str:
        """``text`` with the member, group and topic ids it names replaced by their names."""
        names: dict[str, str] = {}
        for token in _NUMBER.findall(text):
            number = int(token)
            if number in self.roster.names:
                names[token] = self.roster.names[number]
            elif number in self.roster.titles:
                names[token] = self.roster.titles[number]
        chat, topic = place(conversation)
        if topic is not None and (chat, topic) in self.roster.topics:
            names[conversation.thread] = self.roster.place_name(chat, topic)
        return texts.humanise(text, names)

    def evidence_links(self, message_ids: tuple[str, ...], topic: int | None) -> list[str]:
        """t.me links to the evidence messages (the first eight)."""
        links = []
        for ref in message_ids[:8]:
            parsed = parse_message_ref(ref)
            if parsed is not None:
                chat, message = parsed
                link = texts.message_link(chat, message, topic, self.roster.handles.get(chat))
                links.append(link or ref)
        return links

    # -- notices and prompts ------------------------------------------------------------------

    async def _post_in(self, decision: Decision, key: str, text: str,
                       markup: InlineKeyboardMarkup) -> Message:  # fmt: skip
        """Post ``text`` in the decision's conversation, as a reply to its message if possible."""
        chat, topic = place(decision.conversation)
        replied = parse_message_ref(decision.message_id)
        reply = (
            ReplyParameters(replied[1], allow_sending_without_reply=True)
            if replied is not None and replied[0] == chat
            else None
        )
        sent = await self.bot.send_message(chat, texts.clip(text), message_thread_id=topic,
                                           reply_parameters=reply, reply_markup=markup)  # fmt: skip
        self.notices.setdefault(decision.conversation, []).append(sent.message_id)
        _keep(self.message_keys, (chat, sent.message_id), key)
        return sent

    async def _notice(self, decision: PostNotice, key: str) -> ActionResult:
        text = self.humanise(decision.text, decision.conversation)
        sent = await self._post_in(
            decision, key, text, keyboards.notice(key, decision.offers_longform)
        )
        return ActionResult.sent(reference=message_ref(sent.chat_id, sent.message_id))

    async def _prompt(self, decision: PromptMember, key: str) -> ActionResult:
        member = chat_number(decision.member)
        if member is None:
            raise UnresolvedError(f"{decision.member!r} is not a Telegram user id")
        try:
            sent = await self.send_prompt(member, decision, key)
        except PLATFORM_ERRORS as error:
            if not cannot_reach_member(error):
                raise
            notice = await self._post_in(decision, key, texts.NEUTRAL_PROMPT,
                                         keyboards.open_prompt(self.bot.username, key))  # fmt: skip
            return ActionResult(Status.DOWNGRADED, "the member has not started a private chat with "
                                "the bot: a neutral notice with a deep link was posted", None,
                                message_ref(notice.chat_id, notice.message_id))  # fmt: skip
        return ActionResult.sent(reference=message_ref(sent.chat_id, sent.message_id))

    async def send_prompt(self, member: int, decision: PromptMember, key: str) -> Message:
        """Send the prompt of ``decision`` to ``member`` privately (raises Forbidden if closed)."""
        text = self.humanise(decision.text, decision.conversation) + texts.PROMPT_FOOTER
        return await self.bot.send_message(
            member, texts.clip(text), reply_markup=keyboards.prompt(key)
        )

    # -- slow mode ----------------------------------------------------------------------------

    async def _set_slow_mode(
        self, decision: SetSlowMode, key: str, community: Community
    ) -> ActionResult:
        conversation = decision.conversation
        settings = self.service.settings(conversation.community, conversation.channel)
        spell = new_spell(conversation, decision.seconds, decision.until)
        name = spell_key(conversation, decision.message_id)
        problem = await self._cannot_restrict(place(conversation)[0])
        if emulation(settings, self.default_emulation) == "ask_admins" or problem:
            return await self._ask_for_slow_mode(decision, community, name, spell, problem)
        participants = self.roster.participants(conversation, self.service.now())
        paused = await self.slow.start(name, spell, participants)
        where = self.place_name(conversation)
        note = texts.SLOW_MODE_EMULATED.format(place=where, until=texts.clock(decision.until), count=paused,
                                               pause=spell.pause, reason=self.humanise(decision.reason, conversation))  # fmt: skip
        await self._note(community, note)
        return ActionResult.sent(
            f"emulated: {paused} participant(s) paused for {spell.pause} s", name
        )

    async def _cannot_restrict(self, chat_id: int) -> str:
        """Why the bot cannot pause members in ``chat_id`` ("" if it can)."""
        if not str(chat_id).startswith("-100"):
            return "it is a basic group (restrictions need a supergroup)"
        member = await self.bot.get_chat_member(chat_id, self.bot.id)
        if member.status == "creator" or getattr(member, "can_restrict_members", False):
            return ""
        return "the bot lacks the admin right to restrict members (Ban users)"

    async def _ask_for_slow_mode(self, decision: SetSlowMode, community: Community, name: str,
                                 spell: Spell, problem: str) -> ActionResult:  # fmt: skip
        conversation = decision.conversation
        text = texts.ASK_SLOW_MODE.format(place=self.place_name(conversation), seconds=decision.seconds,
                                          until=texts.clock(decision.until),
                                          reason=self.humanise(decision.reason, conversation))  # fmt: skip
        if problem:
            text += f" (Longform could not emulate it: {problem}.)"
        if community.moderators is None:
            raise UnresolvedError(
                "slow mode needs the admins, and no moderators chat is configured"
            )
        await self.bot.send_message(community.moderators, texts.clip(text))
        await self.slow.asked(name, spell)
        return ActionResult(Status.DOWNGRADED, "asked the admins to set slow mode"
                            + (f" ({problem})" if problem else ""), None, name)  # fmt: skip

    async def _lift_slow_mode(self, decision: LiftSlowMode, community: Community) -> ActionResult:
        ended = await self.slow.end(spell_key(decision.conversation, decision.message_id))
        if ended is None:
            return ActionResult(Status.SKIPPED, "no slow mode of Longform's is on there")
        spell, lifted = ended
        where = self.place_name(decision.conversation)
        if spell.asked:
            await self._note(
                community, f"The slow mode asked for in {where} can be turned off now."
            )
        elif lifted:
            await self._note(community, texts.SLOW_MODE_LIFTED.format(place=where, count=lifted))
        return ActionResult.sent(f"lifted {lifted} pause(s)")

    # -- long form and moderators -------------------------------------------------------------

    async def _open_longform(
        self, decision: OpenLongformSpace, key: str, community: Community
    ) -> ActionResult:
        conversation = decision.conversation
        names = [
            self.roster.name(int(p)) for p in decision.participants if chat_number(p) is not None
        ]
        intro = texts.lines([
            self.humanise(decision.text, conversation),
            *(f"• {section}:" for section in decision.template),
            f"Invited: {', '.join(names)}" if names else None,
        ])  # fmt: skip
        title = self.humanise(decision.title, conversation)
        opening = await self.spaces.open(decision, key, community, title, intro)
        return ActionResult.sent(
            f"topic {opening.topic_id} in {opening.chat_id}", opening.reference
        )

    async def _alert(
        self, decision: AlertModerators, key: str, community: Community
    ) -> ActionResult:
        if community.moderators is None:
            raise UnresolvedError(f"no moderators chat is configured for {community.key}")
        sent = await self.bot.send_message(community.moderators, self.alert_text(decision),
                                           reply_markup=keyboards.alert(key))  # fmt: skip
        return ActionResult.sent(reference=message_ref(sent.chat_id, sent.message_id))

    def alert_text(self, decision: Decision) -> str:
        """The moderators' alert: the summary, why, links to the evidence, and any slow mode."""
        conversation = decision.conversation
        _, topic = place(conversation)
        summary = getattr(decision, "text", "") or decision.reason
        links = self.evidence_links(decision.evidence.message_ids, topic)
        return texts.clip(texts.lines([
            self.humanise(summary, conversation),
            f"Why: {self.humanise(decision.reason, conversation)}",
            f"Messages: {' '.join(links)}" if links else None,
            self.slow_status(conversation),
        ]))  # fmt: skip

    def slow_status(self, conversation: ConversationKey) -> str | None:
        """One line on the slow mode Longform set there, if any."""
        spells = [s for s in self.slow.spells.values() if s.conversation == conversation]
        if not spells:
            return None
        if all(spell.asked for spell in spells):
            return "Slow mode: the admins were asked to set it (Telegram bots cannot)."
        paused = sum(len(spell.restricted) for spell in spells)
        return f"Slow mode: emulated by pausing participants ({paused} paused so far)."

    def place_name(self, conversation: ConversationKey) -> str:
        """A conversation's topic and group name, for moderators."""
        return self.roster.place_name(*place(conversation))

    async def _note(self, community: Community, text: str) -> None:
        """A note to the moderators that must not fail the action it reports on."""
        if community.moderators is None:
            return
        try:
            await self.bot.send_message(community.moderators, texts.clip(text))
        except PLATFORM_ERRORS as error:
            log.warning("moderator_note_failed", community=community.key, problem=str(error))

    async def _downgrade(self, decision: Decision, error: DowngradeError) -> ActionResult:
        community = community_of(decision.conversation.community, self.known)
        if community is None or community.moderators is None:
            return ActionResult.failed(str(error))
        try:
            await self.bot.send_message(community.moderators, texts.clip(error.problem))
        except PLATFORM_ERRORS as sending:
            return failure(sending)
        return ActionResult(Status.DOWNGRADED, str(error))

    # -- the runtime's other calls ------------------------------------------------------------

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        """Post ``text`` in the community's moderators' chat."""
        try:
            moderators = self.community(community).moderators
            if moderators is None:
                return ActionResult.failed(f"no moderators chat is configured for {community}")
            sent = await self.bot.send_message(moderators, texts.clip(text))
        except UnresolvedError as error:
            return ActionResult.failed(str(error))
        except PLATFORM_ERRORS as error:
            return failure(error)
        return ActionResult.sent(reference=message_ref(sent.chat_id, sent.message_id))

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        """Post ``text`` in the long-form topic ``reference`` (``<chat>:<topic>``)."""
        parsed = parse_message_ref(reference)
        if parsed is None:
            return ActionResult.failed(f"not a Telegram topic reference: {reference!r}")
        try:
            sent = await self.bot.send_message(
                parsed[0], texts.clip(text), message_thread_id=parsed[1]
            )
        except PLATFORM_ERRORS as error:
            return failure(error)
        return ActionResult.sent(reference=message_ref(sent.chat_id, sent.message_id))

    async def undo(self, conversation: ConversationKey) -> str:
        """Undo what Longform did in ``conversation``: end its slow modes, remove its notices."""
        lifted = await self.slow.end_all(conversation)
        chat, _ = place(conversation)
        removed = 0
        for message_id in self.notices.pop(conversation, []):
            try:
                removed += bool(await self.bot.delete_message(chat, message_id))
            except PLATFORM_ERRORS as error:
                log.info("notice_not_removed", chat=chat, message=message_id, problem=str(error))
        return f"{lifted} pause(s) lifted, {removed} notice(s) removed"
