"""The Telegram gateway: the runtime's ``Gateway`` primitives as Bot API calls.

How it works: the one execution pipeline (``bot.runtime.pipeline``) decides what each decision
means; this module only posts, replies, sends privately, slows a place down and restores it, opens a
forum topic, alerts the moderators, checks rights and resolves names, with every Bot API error
raised as one of the gateway's error kinds (``errors.gateway_error``: a 429's ``retry_after`` is a
``RetryLaterError``). A notice's actions become inline buttons (``keyboards``); the neutral note
that stands in for a private prompt gets the ``t.me/<bot>?start=<payload>`` deep link. Telegram
bots cannot set slow mode: it is emulated with timed restrictions (``slowmode``) and restored
exactly, or, where the bot may not restrict or the policy says so, asked of the admins
(``SlowModeSet.asked``: the pipeline records it as downgraded, and the lift tells them it can go).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

import structlog
from telegram import Bot, ChatMember, InlineKeyboardMarkup, Message, ReplyParameters

from adapters.telegram import keyboards, texts
from adapters.telegram.community import (
    PLATFORM,
    Community,
    chat_number,
    community_of,
    message_ref,
    parse_message_ref,
    place,
)
from adapters.telegram.errors import (
    PLATFORM_ERRORS,
    cannot_reach_member,
    gateway_error,
    translated,
)
from adapters.telegram.longform import LongformSpaces
from adapters.telegram.roster import Roster
from adapters.telegram.service import Emulation, Service, emulation
from adapters.telegram.slowmode import SlowModes, new_spell
from bot.core.decisions import PromptMember
from bot.core.events import ConversationKey
from bot.runtime.gateway import (
    ActionKind,
    Alert,
    CommunityRef,
    MemberRef,
    MessageRef,
    Notice,
    Place,
    Private,
    Rights,
    Sent,
    SlowMode,
    SlowModeSet,
    Unreachable,
    UnresolvedError,
    Venue,
)
from bot.runtime.pipeline import MemorySteps, StepStore

log = structlog.get_logger()
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})
_REMEMBERED = 10_000  # notices' message keys kept in memory (oldest dropped first)


class TelegramGateway:
    """``Gateway`` over an initialized Bot (``bot.username`` must be known)."""

    platform = PLATFORM

    def __init__(self, bot: Bot, known: dict[int, Community], roster: Roster, service: Service,
                 default_emulation: Emulation = "restrict",
                 steps: StepStore | None = None) -> None:  # fmt: skip
        self.bot, self.known, self.roster, self.service = bot, known, roster, service
        self._configured_topics = {chat: c.topics for chat, c in known.items()}
        self.default_emulation: Emulation = default_emulation
        self.slow = SlowModes(bot, roster, service)
        self.steps: StepStore = steps if steps is not None else MemorySteps()
        self.spaces = LongformSpaces(bot, roster, self.steps)
        self.notices: dict[ConversationKey, list[int]] = {}  # our notices there (for undo)
        self.message_keys: dict[tuple[int, int], str] = {}  # (chat, our message) -> decision key

    def community(self, ref: CommunityRef) -> Community:
        """The configured group behind ``ref``; UnresolvedError if there is none."""
        found = community_of(ref.key, self.known)
        if found is None:
            raise UnresolvedError(f"{ref.key} is not a Telegram group in the config")
        return found

    def _moderators(self, ref: CommunityRef) -> int:
        moderators = self.community(ref).moderators
        if moderators is None:
            raise UnresolvedError(f"no moderators chat is configured for {ref.key}")
        return moderators

    # -- names --------------------------------------------------------------------------------

    async def resolve_names(
        self, community: CommunityRef, ids: tuple[str, ...]
    ) -> Mapping[str, str]:
        named = ((raw, self._name_of(raw)) for raw in ids)
        return {raw: name for raw, name in named if name}

    def _name_of(self, raw: str) -> str | None:
        number = chat_number(raw)
        if number is None:
            return None
        return self.roster.names.get(number) or self.roster.titles.get(number)

    def in_place(self, text: str, where: Place) -> str:
        """``text`` with the place's topic id named (topic ids are small numbers, so only the
        place's own is replaced, not every number)."""
        chat, topic = place(where.conversation)
        if topic is None or (chat, topic) not in self.roster.topics:
            return text
        return texts.humanise(text, {where.thread: self.roster.place_name(chat, topic)})

    def humanise(self, text: str, conversation: ConversationKey) -> str:
        """``text`` with the member, group and topic ids it names replaced by their names (for
        the buttons' and commands' answers, which do not go through the pipeline)."""
        names = {token: self._name_of(token) or "" for token in texts.numbers(text)}
        try:
            where = Place.of(conversation)
        except ValueError:
            return texts.humanise(text, names)
        return self.in_place(texts.humanise(text, names), where)

    def place_name(self, where: Place) -> str:
        """A place's topic and group name, for moderators."""
        return self.roster.place_name(*place(where.conversation))

    # -- posting ------------------------------------------------------------------------------

    async def post_notice(self, notice: Notice, key: str) -> Sent:
        chat, topic = place(notice.place.conversation)
        reply = _reply_to(chat, notice.reply_to or "")
        markup, decision_key = self._markup(notice)
        # The note standing in for a private prompt says what its deep link does, in Telegram's terms.
        shows_note = any(action.kind is ActionKind.SHOW_NOTE for action in notice.actions)
        text = texts.clip(
            texts.NEUTRAL_PROMPT if shows_note else self.in_place(notice.text, notice.place)
        )
        with translated():
            sent = await self.bot.send_message(chat, text, message_thread_id=topic,
                                               reply_parameters=reply, reply_markup=markup)  # fmt: skip
        self.notices.setdefault(notice.place.conversation, []).append(sent.message_id)
        self.message_keys[(chat, sent.message_id)] = decision_key
        while len(self.message_keys) > _REMEMBERED:
            del self.message_keys[next(iter(self.message_keys))]
        return _sent(sent)

    def _markup(self, notice: Notice) -> tuple[InlineKeyboardMarkup | None, str]:
        """The buttons for a notice's actions, and the decision they are about."""
        kinds = {action.kind: action.key for action in notice.actions}
        if ActionKind.SHOW_NOTE in kinds:  # the prompt, opened in the private chat
            key = kinds[ActionKind.SHOW_NOTE]
            return keyboards.open_prompt(self.bot.username, key), key
        if ActionKind.CONSENT in kinds:  # accepting is asking for the space
            key = kinds[ActionKind.CONSENT]
            return keyboards.notice(key, offers_longform=True), key
        key = next(iter(kinds.values()), "")
        offers = ActionKind.OPEN_LONGFORM in kinds
        return (keyboards.notice(key, offers) if key else None), key

    async def reply(self, to: MessageRef, text: str, key: str) -> Sent:
        chat, topic = place(to.place.conversation)
        reply = _reply_to(chat, to.id)
        with translated():
            sent = await self.bot.send_message(chat, texts.clip(text), message_thread_id=topic,
                                               reply_parameters=reply)  # fmt: skip
        return _sent(sent)

    async def send_private(self, message: Private, key: str) -> Sent | Unreachable:
        member = chat_number(message.member.id)
        if member is None:
            raise UnresolvedError(f"{message.member.id!r} is not a Telegram user id")
        try:
            sent = await self._send_privately(member, message.text, key)
        except PLATFORM_ERRORS as error:
            if cannot_reach_member(error):
                return Unreachable("the member has not started a private chat with the bot")
            raise gateway_error(error) from error
        return _sent(sent)

    async def send_prompt(self, member: int, decision: PromptMember, key: str) -> Message:
        """Send the prompt of ``decision`` to ``member`` (``/start`` with its deep link); raises
        Forbidden if the chat is closed."""
        return await self._send_privately(
            member, self.humanise(decision.text, decision.conversation), key
        )

    async def _send_privately(self, member: int, text: str, key: str) -> Message:
        return await self.bot.send_message(
            member, texts.clip(text + texts.PROMPT_FOOTER), reply_markup=keyboards.prompt(key)
        )

    async def alert_moderators(self, alert: Alert, key: str) -> Sent:
        moderators = self._moderators(alert.community)
        markup = keyboards.alert(alert.actions[0].key) if alert.actions else None
        with translated():
            sent = await self.bot.send_message(moderators, self._alert_text(alert),
                                               reply_markup=markup)  # fmt: skip
        return _sent(sent)

    def _alert_text(self, alert: Alert) -> str:
        """The summary, why, links to the evidence, and any slow mode Longform set there."""
        if alert.place is None:
            return texts.clip(alert.text)
        where = alert.place
        _, topic = place(where.conversation)
        links = [self._link(ref, topic) for ref in alert.evidence[:8]]
        return texts.clip(texts.lines([
            self.in_place(alert.text, where),
            f"Why: {self.in_place(alert.reason, where)}"
            if alert.reason and not alert.could_not  # a downgrade's text says why already
            else None,
            f"Messages: {' '.join(links)}" if links else None,
            self.slow_status(where.conversation),
        ]))  # fmt: skip

    def _link(self, ref: MessageRef, topic: int | None) -> str:
        parsed = parse_message_ref(ref.id)
        if parsed is None:
            return ref.id
        link = texts.message_link(*parsed, topic, self.roster.handles.get(parsed[0]))
        return link or ref.id

    def slow_status(self, conversation: ConversationKey) -> str | None:
        """One line on the slow mode Longform set there, if any."""
        spells = [s for s in self.slow.spells.values() if s.conversation == conversation]
        if not spells:
            return None
        if all(spell.asked for spell in spells):
            return "Slow mode: the admins were asked to set it (Telegram bots cannot)."
        paused = sum(len(spell.restricted) for spell in spells)
        return f"Slow mode: emulated by pausing participants ({paused} paused so far)."

    async def _note(self, community: CommunityRef, text: str) -> None:
        """A note to the moderators that must not fail the step it reports on."""
        moderators = self.community(community).moderators
        if moderators is None:
            return
        try:
            await self.bot.send_message(moderators, texts.clip(text))
        except PLATFORM_ERRORS as error:
            log.warning("moderator_note_failed", community=community.key, problem=str(error))

    # -- slow mode ----------------------------------------------------------------------------

    async def set_slow_mode(self, slow: SlowMode, key: str) -> SlowModeSet:
        where = slow.place
        conversation, community = where.conversation, where.community
        settings = self.service.settings(community.key, where.channel)
        spell = new_spell(conversation, slow.seconds, slow.until)
        restore = json.dumps({"spell": key})
        with translated():
            problem = await self._cannot_restrict(place(conversation)[0])
            if emulation(settings, self.default_emulation) == "ask_admins" or problem:
                detail = await self._ask_for_slow_mode(slow, problem)
                await self.slow.asked(key, spell)
                return SlowModeSet(restore, emulated=True, detail=detail, asked=True)
            participants = self.roster.participants(conversation, self.service.now())
            paused = await self.slow.start(key, spell, participants)
        note = texts.SLOW_MODE_EMULATED.format(place=self.place_name(where), until=texts.clock(slow.until),
                                               count=paused, pause=spell.pause,
                                               reason=self.in_place(slow.reason, where))  # fmt: skip
        await self._note(community, note)
        return SlowModeSet(
            restore,
            emulated=True,
            detail=f"emulated: {paused} participant(s) paused for {spell.pause} s",
        )

    async def _cannot_restrict(self, chat_id: int) -> str:
        """Why the bot cannot pause members in ``chat_id`` ("" if it can)."""
        if not str(chat_id).startswith("-100"):
            return "it is a basic group (restrictions need a supergroup)"
        member = await self.bot.get_chat_member(chat_id, self.bot.id)
        if member.status == "creator" or getattr(member, "can_restrict_members", False):
            return ""
        return "the bot lacks the admin right to restrict members (Ban users)"

    async def _ask_for_slow_mode(self, slow: SlowMode, problem: str) -> str:
        """Ask the admins to set slow mode themselves; what was done, in words."""
        text = texts.ASK_SLOW_MODE.format(place=self.place_name(slow.place), seconds=slow.seconds,
                                          until=texts.clock(slow.until),
                                          reason=self.in_place(slow.reason, slow.place))  # fmt: skip
        if problem:
            text += f" (Longform could not emulate it: {problem}.)"
        moderators = self.community(slow.place.community).moderators
        if moderators is None:
            raise UnresolvedError(
                "slow mode needs the admins, and no moderators chat is configured"
            )
        await self.bot.send_message(moderators, texts.clip(text))
        return "asked the admins to set slow mode" + (f" ({problem})" if problem else "")

    async def restore_slow_mode(self, place: Place, restore: str) -> Sent:
        try:
            key = str(json.loads(restore)["spell"])
        except (ValueError, KeyError, TypeError) as error:
            raise UnresolvedError(f"not a Telegram slow mode record: {restore!r}") from error
        with translated():
            ended = await self.slow.end(key)
        if ended is None:
            return Sent(key, "no slow mode of Longform's was on there")
        spell, lifted = ended
        where = self.place_name(place)
        if spell.asked:
            await self._note(
                place.community, f"The slow mode asked for in {where} can be turned off now."
            )
        elif lifted:
            await self._note(
                place.community, texts.SLOW_MODE_LIFTED.format(place=where, count=lifted)
            )
        return Sent(key, f"lifted {lifted} pause(s)")

    # -- long form ----------------------------------------------------------------------------

    async def open_venue(self, venue: Venue, key: str) -> Sent:
        community = self.community(venue.origin.community)
        names = [self.roster.name(int(p.id)) for p in venue.participants
                 if chat_number(p.id) is not None]  # fmt: skip
        intro = texts.lines([
            self.in_place(venue.intro, venue.origin),
            *(f"• {section}:" for section in venue.template),
            f"Invited: {', '.join(names)}" if names else None,
        ])  # fmt: skip
        title = self.in_place(venue.title, venue.origin)
        with translated():
            opening = await self.spaces.open(venue, key, community, title, intro)
        await self._watch_topic(opening.chat_id, opening.topic_id)
        detail = f"topic {opening.topic_id} in {opening.chat_id}"
        return Sent(opening.reference, detail, opening.link or "")

    async def _watch_topic(self, chat: int, topic: int, save: bool = True) -> None:
        """A group that watches only some topics (``channels``) watches its long-form topics too:
        who moves there and writes is an outcome. Kept across restarts (``watch_venue_topics``)."""
        served = self.known.get(chat)
        if served is None or not served.topics or topic in served.topics:
            return
        self.known[chat] = replace(served, topics=served.topics | {topic})
        if save:
            await self.service.save(f"telegram:venue_topics:{chat}", sorted(
                self.known[chat].topics - self._configured_topics.get(chat, frozenset())))  # fmt: skip

    async def watch_venue_topics(self) -> None:
        """At start: the long-form topics opened before the restart are watched again."""
        for chat in list(self.known):
            saved = await self.service.load(f"telegram:venue_topics:{chat}")
            for topic in saved if isinstance(saved, list) else ():
                await self._watch_topic(chat, int(topic), save=False)

    async def post_in_venue(self, community: CommunityRef, reference: str, text: str) -> Sent:
        parsed = parse_message_ref(reference)
        if parsed is None:
            raise UnresolvedError(f"not a Telegram topic reference: {reference!r}")
        with translated():
            sent = await self.bot.send_message(
                parsed[0], texts.clip(text), message_thread_id=parsed[1]
            )
        return _sent(sent)

    # -- rights and undo ----------------------------------------------------------------------

    async def rights(self, member: MemberRef, place: Place) -> Rights:
        user = chat_number(member.id)
        if user is None:
            raise UnresolvedError(f"{member.id!r} is not a Telegram user id")
        with translated():
            found = await self.bot.get_chat_member(int(place.channel), user)
        return Rights(found.status in ADMIN_STATUSES, found.user.first_name)

    def venue_place(self, community: CommunityRef, reference: str) -> Place:
        """A forum topic (``<chat>:<topic>``): its messages are in that chat, in the topic."""
        parsed = parse_message_ref(reference)
        if parsed is None:
            raise UnresolvedError(f"not a Telegram topic reference: {reference!r}")
        chat, topic = parsed
        return Place(CommunityRef(PLATFORM, str(chat)), str(chat), str(topic))

    async def undo_actions(self, place: Place, key: str) -> Sent:
        with translated():
            done = await self.undo(place.conversation)
        return Sent(place.id, done)

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


def _sent(message: Message) -> Sent:
    return Sent(message_ref(message.chat_id, message.message_id))


def _reply_to(chat: int, ref: str) -> ReplyParameters | None:
    """A reply to message ``ref`` if it is in ``chat`` (posted plainly if it is gone since)."""
    replied = parse_message_ref(ref)
    if replied is None or replied[0] != chat:
        return None
    return ReplyParameters(replied[1], allow_sending_without_reply=True)
