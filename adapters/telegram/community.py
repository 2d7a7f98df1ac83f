"""The Telegram communities the config names, keyed by group chat id, as the adapter needs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import Config
from bot.core.events import ConversationKey
from bot.runtime.gateway import CommunityRef

PLATFORM = "telegram"


@dataclass(frozen=True, slots=True)
class Community:
    """One configured group: where moderators read, where long-form topics go, what is watched."""

    chat_id: int
    moderators: int | None = None  # chat id of the moderators' chat
    longform_space: int | None = None  # forum group chat id (None: the group itself, if a forum)
    topics: frozenset[int] = frozenset()  # watched forum topics (empty: everything)

    @property
    def key(self) -> str:
        """The community id the core sees: ``telegram:<chat id>``."""
        return CommunityRef(PLATFORM, str(self.chat_id)).key

    def watches(self, thread_id: int | None) -> bool:
        """True if a message in topic ``thread_id`` (None: outside any topic) is judged."""
        return not self.topics or (thread_id is not None and thread_id in self.topics)


Known = Mapping[int, Community]


def chat_number(value: str) -> int | None:
    """A Telegram chat or user id from a config or core string, or None if it is not one."""
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def communities(config: Config) -> dict[int, Community]:
    """Every ``[[communities]]`` entry with ``platform = "telegram"``, by group chat id.

    Ids that are not numbers are left out (the config validates only that they are strings).
    """
    found: dict[int, Community] = {}
    for entry in config.communities:
        chat = chat_number(entry.id)
        if entry.platform != PLATFORM or chat is None:
            continue
        topics = frozenset(t for t in map(chat_number, entry.channels) if t is not None)
        found[chat] = Community(
            chat, chat_number(entry.moderators), chat_number(entry.longform_space), topics
        )
    return found


def community_of(community: str, known: Known) -> Community | None:
    """The configured community behind a core community id (``telegram:<chat id>``), if any."""
    ref = CommunityRef.of(community)
    chat = chat_number(ref.id) if ref.platform == PLATFORM else None
    return None if chat is None else known.get(chat)


def served_from(chat_id: int, known: Known) -> Community | None:
    """The community a chat belongs to: the group itself, or the group its moderators use."""
    if chat_id in known:
        return known[chat_id]
    return next((c for c in known.values() if c.moderators == chat_id), None)


def place(conversation: ConversationKey) -> tuple[int, int | None]:
    """(chat id, forum topic id or None) of a core conversation; ValueError if not Telegram's."""
    chat = chat_number(conversation.channel)
    if chat is None:
        raise ValueError(f"not a Telegram chat: {conversation.channel!r}")
    return chat, chat_number(conversation.thread) if conversation.thread else None


def message_ref(chat_id: int, message_id: int) -> str:
    """The core's id of a Telegram message: ``<chat id>:<message id>`` (message ids are per chat)."""
    return f"{chat_id}:{message_id}"


def parse_message_ref(ref: str) -> tuple[int, int] | None:
    """(chat id, message id) of a core message id made by ``message_ref``, or None."""
    chat, _, message = ref.rpartition(":")
    chat_id, message_id = chat_number(chat), chat_number(message)
    if chat_id is None or message_id is None:
        return None
    return chat_id, message_id
