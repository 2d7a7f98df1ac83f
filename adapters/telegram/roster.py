"""What the adapter learns from the updates it sees: names, usernames, admins, topics, joins.

The Bot API cannot look a user up by username, list a chat's members or read its history, so the
adapter keeps what passing updates tell it: ``@username`` -> id (to resolve mentions), first names
(so texts say "Ana", not "1001"), forum topic names (every topic message carries its topic's
creation message), chat titles, each chat's admins (exempt from judging and slow mode), when members
joined, and who spoke recently in each conversation (the participants a slow mode applies to).
Every table is bounded: the oldest entries go first.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from telegram import Chat, ChatFullInfo, Message, User

from bot.core.events import ConversationKey

K = TypeVar("K")
V = TypeVar("V")
MAX_ENTRIES = 50_000  # per table: plenty for a professional community, flat memory for a huge one
RECENT = timedelta(minutes=30)  # how long a speaker counts as a participant of a conversation


def _put(table: MutableMapping[K, V], key: K, value: V) -> None:
    """Insert or refresh ``key`` (moved to the newest end), dropping the oldest beyond the cap."""
    table.pop(key, None)
    table[key] = value
    while len(table) > MAX_ENTRIES:
        del table[next(iter(table))]


@dataclass
class Roster:
    """The adapter's memory of people and places (in memory only; rebuilt as updates arrive)."""

    usernames: dict[str, int] = field(default_factory=dict)  # lower-cased username -> user id
    names: dict[int, str] = field(default_factory=dict)  # user id -> first name
    admins: dict[int, frozenset[int]] = field(default_factory=dict)  # chat id -> admin ids
    joined: dict[tuple[int, int], datetime] = field(default_factory=dict)  # (chat, user) -> when
    topics: dict[tuple[int, int], str] = field(default_factory=dict)  # (chat, topic) -> name
    titles: dict[int, str] = field(default_factory=dict)  # chat id -> title
    handles: dict[int, str] = field(default_factory=dict)  # chat id -> public @username
    speakers: dict[ConversationKey, dict[int, datetime]] = field(default_factory=dict)

    def learn_user(self, user: User | None) -> None:
        """Remember a user's first name and username."""
        if user is None or user.is_bot:
            return
        _put(self.names, user.id, user.first_name)
        if user.username:
            _put(self.usernames, user.username.lower(), user.id)

    def learn_chat(self, chat: Chat | ChatFullInfo) -> None:
        """Remember a group's title."""
        if chat.title:
            _put(self.titles, chat.id, chat.title)
        if chat.username:
            _put(self.handles, chat.id, chat.username)

    def learn(self, message: Message) -> None:
        """Remember what one message tells: its author, chat, topic and any mentioned users."""
        self.learn_user(message.from_user)
        self.learn_chat(message.chat)
        for entity in message.entities or ():
            self.learn_user(entity.user)
        replied = message.reply_to_message
        if replied is not None:
            self.learn_user(replied.from_user)
            created = replied.forum_topic_created
            if created is not None and message.message_thread_id is not None:
                _put(self.topics, (message.chat_id, message.message_thread_id), created.name)
        if message.forum_topic_created is not None and message.message_thread_id is not None:
            _put(self.topics, (message.chat_id, message.message_thread_id),
                 message.forum_topic_created.name)  # fmt: skip

    def set_admins(self, chat_id: int, admins: Iterable[int]) -> None:
        """Replace the admins of ``chat_id`` (from getChatAdministrators or a chat_member update)."""
        self.admins[chat_id] = frozenset(admins)

    def set_admin(self, chat_id: int, user_id: int, is_admin: bool) -> None:
        """One member became, or stopped being, an admin of ``chat_id``."""
        current = self.admins.get(chat_id, frozenset())
        self.admins[chat_id] = current | {user_id} if is_admin else current - {user_id}

    def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether ``user_id`` is known to administer ``chat_id``."""
        return user_id in self.admins.get(chat_id, frozenset())

    def joined_now(self, chat_id: int, user_id: int, at: datetime) -> bool:
        """Record a join; False if this join was already recorded (message and chat_member)."""
        previous = self.joined.get((chat_id, user_id))
        if previous is not None and abs(at - previous) < timedelta(minutes=1):
            return False
        _put(self.joined, (chat_id, user_id), at)
        return True

    def spoke(self, conversation: ConversationKey, user_id: int, at: datetime) -> None:
        """Remember that ``user_id`` posted in ``conversation`` at ``at``."""
        speakers = self.speakers.setdefault(conversation, {})
        _put(speakers, user_id, at)
        for user in [u for u, when in speakers.items() if at - when > RECENT]:
            del speakers[user]
        if len(self.speakers) > MAX_ENTRIES:
            del self.speakers[next(iter(self.speakers))]

    def participants(self, conversation: ConversationKey, now: datetime) -> list[int]:
        """Who posted in ``conversation`` within the last ``RECENT``, oldest speaker first."""
        speakers = self.speakers.get(conversation, {})
        return [user for user, at in speakers.items() if now - at <= RECENT]

    def name(self, user_id: int) -> str:
        """A user's first name, or their id when no update has shown it."""
        return self.names.get(user_id, str(user_id))

    def place_name(self, chat_id: int, topic_id: int | None) -> str:
        """A topic's name (in its group), else the group's title, else the chat id."""
        title = self.titles.get(chat_id, str(chat_id))
        topic = self.topics.get((chat_id, topic_id)) if topic_id is not None else None
        return f"{topic} ({title})" if topic else title
