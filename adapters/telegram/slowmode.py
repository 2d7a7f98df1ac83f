"""Slow mode on Telegram, which the Bot API cannot set: emulated with timed restrictions.

How it works: while an emulated slow mode (a *spell*) is on in a conversation, each participant is
paused (``restrictChatMember`` with everything that sends a message turned off, and an
``until_date``) for the policy's ``seconds`` after every message they post there, which is what
slow mode does; when the spell starts, everyone who spoke there in the last half hour is paused
once. Telegram ends each pause by itself at its ``until_date``, even if Longform is down. A pause is
never shorter than 30 s: Telegram reads an ``until_date`` less than 30 s away as *forever*, so
``CLOCK_MARGIN`` more is added in case this machine's clock runs behind Telegram's. The runtime's
``LiftSlowMode`` (through the gateway's ``restore_slow_mode``) ends the spell and lifts every pause still in force that is still ours (a moderator
may have restricted the member since). Admins are never paused. Spells are kept in memory and saved
through the service, so a lift after a restart still finds whom to release.

A restriction applies to the whole group, not only the heated topic; the moderators' note says so.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import structlog
from telegram import Bot, ChatMemberRestricted, ChatPermissions
from telegram.error import BadRequest

from adapters.telegram.community import place
from adapters.telegram.roster import Roster
from adapters.telegram.service import Service
from bot.core.events import ConversationKey

log = structlog.get_logger()
MIN_PAUSE = 30  # seconds: Telegram reads an until_date closer than this as a permanent restriction
CLOCK_MARGIN = 5  # seconds added to every pause, in case our clock is behind Telegram's
STATE = "telegram:slow_modes"
FORGET_AFTER = timedelta(days=7)
_SENDING = (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews",
)  # fmt: skip


def paused_permissions() -> ChatPermissions:
    """Everything allowed except sending anything (the chat's own defaults still apply)."""
    granted = ChatPermissions.all_permissions().to_dict()
    return ChatPermissions(**{**granted, **dict.fromkeys(_SENDING, False)})


@dataclass
class Spell:
    """One emulated slow mode: where, how long each pause lasts, until when, and who is paused."""

    community: str
    channel: str
    thread: str
    pause: int  # seconds
    until: float  # Unix time the spell ends
    restricted: dict[str, int] = field(default_factory=dict)  # user id -> until_date we set
    asked: bool = False  # the admins were asked to set native slow mode: nothing to pause here

    @property
    def conversation(self) -> ConversationKey:
        return ConversationKey(self.community, self.channel, self.thread)


class SlowModes:
    """The spells in force, by the outbox key of the slow mode that started them; every change is saved through the service."""

    def __init__(self, bot: Bot, roster: Roster, service: Service) -> None:
        self.bot, self.roster, self.service = bot, roster, service
        self.spells: dict[str, Spell] = {}

    async def restore(self) -> None:
        """Load the spells saved before a restart (a bad saved value is logged and dropped)."""
        saved = await self.service.load(STATE)
        for key, raw in (saved or {}).items():
            try:
                self.spells[key] = Spell(**raw)
            except TypeError as error:
                log.warning("slow_mode_state_dropped", spell=key, problem=str(error))

    async def _save(self) -> None:
        # A spell whose lift never came (its decision expired, say) is forgotten after a week.
        horizon = self.service.now().timestamp() - FORGET_AFTER.total_seconds()
        for key in [key for key, spell in self.spells.items() if spell.until < horizon]:
            del self.spells[key]
        await self.service.save(STATE, {key: asdict(spell) for key, spell in self.spells.items()})

    def active(self, conversation: ConversationKey, now: datetime) -> list[tuple[str, Spell]]:
        """The spells in force in ``conversation`` at ``now``."""
        stamp = now.timestamp()
        return [
            (key, spell)
            for key, spell in self.spells.items()
            if spell.conversation == conversation and spell.until > stamp and not spell.asked
        ]

    async def start(self, key: str, spell: Spell, participants: list[int]) -> int:
        """Start ``spell`` (again, on a retry) and pause ``participants``; how many were paused."""
        self.spells[key] = self.spells.get(key, spell)
        paused = 0
        for user in participants:
            paused += await self._pause(self.spells[key], user)
        await self._save()
        return paused

    async def after_message(self, conversation: ConversationKey, user_id: int) -> None:
        """A participant posted where a spell is on: pause them for the spell's ``pause``."""
        spells = self.active(conversation, self.service.now())
        if not spells:
            return
        _, spell = max(spells, key=lambda item: item[1].pause)
        if await self._pause(spell, user_id):
            await self._save()

    async def asked(self, key: str, spell: Spell) -> None:
        """Remember that the admins were asked to set slow mode (so the lift can tell them)."""
        spell.asked = True
        self.spells[key] = spell
        await self._save()

    async def end(self, key: str) -> tuple[Spell, int] | None:
        """End the spell ``key`` and lift its pauses still in force: (the spell, how many were
        lifted), or None if there was no such spell. If Telegram fails halfway (a rate limit),
        the pauses not yet lifted stay recorded, so a retry finishes the job."""
        spell = self.spells.get(key)
        if spell is None:
            return None
        lifted = 0
        try:
            for user, until in list(spell.restricted.items()):
                lifted += await self._lift(spell, int(user), until)
                del spell.restricted[user]
        finally:
            if not spell.restricted:
                self.spells.pop(key, None)
            await self._save()
        return spell, lifted

    async def end_all(self, conversation: ConversationKey) -> int:
        """End every spell in ``conversation`` (a moderator's undo); how many pauses were lifted."""
        keys = [key for key, spell in self.spells.items() if spell.conversation == conversation]
        lifted = 0
        for key in keys:
            ended = await self.end(key)
            lifted += ended[1] if ended else 0
        return lifted

    async def _pause(self, spell: Spell, user_id: int) -> int:
        chat_id, _ = place(spell.conversation)
        now = self.service.now().timestamp()
        left = spell.until - now
        if self.roster.is_admin(chat_id, user_id) or user_id == self.bot.id or left < MIN_PAUSE:
            return 0
        until = int(now) + max(spell.pause, MIN_PAUSE) + CLOCK_MARGIN
        try:
            await self.bot.restrict_chat_member(chat_id, user_id, paused_permissions(), until_date=until,
                                                use_independent_chat_permissions=True)  # fmt: skip
        except BadRequest as error:  # an admin or the owner: Telegram refuses, and that is right
            log.info("slow_mode_pause_refused", chat=chat_id, user=user_id, problem=error.message)
            return 0
        spell.restricted[str(user_id)] = until
        return 1

    async def _lift(self, spell: Spell, user_id: int, until: int) -> int:
        chat_id, _ = place(spell.conversation)
        member = await self.bot.get_chat_member(chat_id, user_id)
        if not isinstance(member, ChatMemberRestricted) or member.can_send_messages:
            return 0  # the pause ran out, or someone lifted it
        theirs = member.until_date
        if theirs is not None and abs(theirs.timestamp() - until) > 2:
            return 0  # restricted again since, by someone else: not ours to lift
        with contextlib.suppress(BadRequest):
            await self.bot.restrict_chat_member(chat_id, user_id, ChatPermissions.all_permissions(),
                                                use_independent_chat_permissions=True)  # fmt: skip
            return 1
        return 0


def new_spell(conversation: ConversationKey, seconds: int, until: datetime) -> Spell:
    """A spell pausing each participant ``seconds`` (at least ``MIN_PAUSE``) until ``until``."""
    return Spell(conversation.community, conversation.channel, conversation.thread,
                 max(seconds, MIN_PAUSE), until.timestamp())  # fmt: skip
