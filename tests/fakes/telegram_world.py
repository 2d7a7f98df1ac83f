"""The state behind the fake Telegram server: users, chats, members, topics and messages.

How it works: everything is plain data serialised on demand into Bot API JSON (`to_api`). A `World`
owns the chats and the clock, and enforces the rules a moderation bot runs into: who the bot may
message privately, which rights the bot holds in a chat, which members are restricted until when,
which forum topics exist and are closed. Both the Bot API methods (what the bot does) and the
driving helpers (what users do) go through it, so both see the same rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

# The permissions of ChatPermissions (Bot API 10.0), all granted by default.
PERMISSION_KEYS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
)
# The rights of an administrator (ChatMemberAdministrator), beyond is_anonymous and can_be_edited.
ADMIN_RIGHT_KEYS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)
DAY = 86_400
GENERAL_TOPIC_ID = 1


class ApiError(Exception):
    """A Bot API failure: answered as `{"ok": false, "error_code": code, "description": ...}`."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_api(self) -> JSON:
        """Return the error body as Telegram sends it."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class UserCannotPostError(Exception):
    """Raised by the driving helpers when Telegram would not let that user post there."""


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user (or the bot itself when `is_bot`)."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    is_bot: bool = False
    language_code: str | None = None

    def to_api(self) -> JSON:
        """Return the User object."""
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass
class Member:
    """One user's standing in one chat: status plus admin rights or restrictions."""

    user: FakeUser
    status: str  # creator, administrator, member, restricted, left, kicked
    rights: dict[str, bool] = field(default_factory=dict)
    permissions: dict[str, bool] = field(default_factory=dict)
    until_date: int = 0  # 0 means forever, as in the Bot API

    @property
    def is_admin(self) -> bool:
        """Whether the member is the creator or an administrator."""
        return self.status in ("creator", "administrator")

    def right(self, name: str) -> bool:
        """Whether the member holds admin right `name` (the creator holds all)."""
        return self.status == "creator" or (self.is_admin and self.rights.get(name, False))

    def to_api(self) -> JSON:
        """Return the ChatMember object for this status."""
        data: JSON = {"status": self.status, "user": self.user.to_api()}
        if self.status == "creator":
            data["is_anonymous"] = False
        elif self.status == "administrator":
            data |= {"can_be_edited": False, "is_anonymous": False}
            data |= {key: self.rights.get(key, False) for key in ADMIN_RIGHT_KEYS}
        elif self.status == "restricted":
            data |= {"is_member": True, "until_date": self.until_date}
            data |= {key: self.permissions.get(key, True) for key in PERMISSION_KEYS}
        elif self.status == "kicked":
            data["until_date"] = self.until_date
        return data


@dataclass
class Topic:
    """A forum topic; its id is the id of the service message that created it."""

    message_thread_id: int
    name: str
    icon_color: int = 7322096
    icon_custom_emoji_id: str | None = None
    is_closed: bool = False
    created_by_bot: bool = False

    def to_api(self) -> JSON:
        """Return the ForumTopic object."""
        data: JSON = {
            "message_thread_id": self.message_thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return data


@dataclass(frozen=True)
class Restriction:
    """One restrictChatMember call as the server applied it; `at` is the server time then."""

    chat_id: int
    user_id: int
    permissions: dict[str, bool]
    until_date: int  # as sent; 0 when absent
    at: int

    @property
    def forever(self) -> bool:
        """Telegram reads an until_date under 30 s or over 366 days away as forever."""
        ahead = self.until_date - self.at
        return self.until_date == 0 or ahead < 30 or ahead > 366 * DAY


@dataclass
class FakeChat:
    """A private chat, group or supergroup (a forum when `is_forum`)."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    is_forum: bool = False
    permissions: dict[str, bool] = field(
        default_factory=lambda: dict.fromkeys(PERMISSION_KEYS, True)
    )
    slow_mode_delay: int = 0
    members: dict[int, Member] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    messages: dict[int, JSON] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    next_message_id: int = 101  # id 1 is the General topic of a forum

    def to_api(self) -> JSON:
        """Return the Chat object embedded in messages."""
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.is_forum:
            data["is_forum"] = True
        return data

    def take_message_id(self) -> int:
        """Return the next message id of this chat."""
        self.next_message_id += 1
        return self.next_message_id - 1


@dataclass
class World:
    """Everything the fake knows. `clock` returns Unix seconds (settable for tests)."""

    bot: FakeUser
    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    users: dict[int, FakeUser] = field(default_factory=dict)
    chats: dict[int, FakeChat] = field(default_factory=dict)
    reachable: set[int] = field(default_factory=set)  # users who started the bot
    blocked: set[int] = field(default_factory=set)  # users who blocked the bot
    restriction_log: list[Restriction] = field(default_factory=list)
    permission_log: list[tuple[int, dict[str, bool]]] = field(default_factory=list)
    callback_queries: dict[str, bool] = field(default_factory=dict)  # id -> answered
    callback_answers: list[JSON] = field(default_factory=list)
    commands: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)
    privacy_mode: bool = False  # when True, a non-admin bot sees only commands, mentions, replies

    def add_user(self, user: FakeUser) -> FakeUser:
        """Register `user` (idempotent) and return it."""
        self.users[user.id] = user
        return user

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        forum: bool = False,
        supergroup: bool = True,
        username: str | None = None,
        owner: FakeUser | None = None,
        admins: Iterable[FakeUser] = (),
        members: Iterable[FakeUser] = (),
        bot_admin: bool = True,
        bot_rights: dict[str, bool] | None = None,
    ) -> FakeChat:
        """Create a group; the bot is an admin with every right unless told otherwise."""
        kind = "supergroup" if supergroup or forum else "group"
        chat = FakeChat(chat_id, kind, title=title, username=username, is_forum=forum)
        self.chats[chat_id] = chat
        rights = dict.fromkeys(ADMIN_RIGHT_KEYS, True) | (bot_rights or {})
        if not forum:
            rights.pop("can_manage_topics", None)
        status = "administrator" if bot_admin else "member"
        chat.members[self.bot.id] = Member(self.bot, status, rights if bot_admin else {})
        if owner is not None:
            chat.members[owner.id] = Member(self.add_user(owner), "creator")
        for admin in admins:
            admin_rights = dict.fromkeys(ADMIN_RIGHT_KEYS, True)
            chat.members[admin.id] = Member(self.add_user(admin), "administrator", admin_rights)
        for user in members:
            chat.members[user.id] = Member(self.add_user(user), "member")
        return chat

    def private_chat(self, user: FakeUser) -> FakeChat:
        """Return (creating it if needed) the private chat between `user` and the bot."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = FakeChat(user.id, "private", username=user.username, first_name=user.first_name)
            chat.members[user.id] = Member(self.add_user(user), "member")
            self.chats[user.id] = chat
        return chat

    def chat(self, chat_id: Any) -> FakeChat:
        """Return the chat for an id or @username, or raise `chat not found`."""
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.username and f"@{chat.username}".lower() == chat_id.lower():
                    return chat
        elif isinstance(chat_id, int | str) and str(chat_id).lstrip("-").isdigit():
            found = self.chats.get(int(chat_id))
            if found is not None:
                return found
            if int(chat_id) in self.users:
                return self.private_chat(self.users[int(chat_id)])
        raise ApiError(400, "Bad Request: chat not found")

    def member(self, chat: FakeChat, user_id: Any) -> Member:
        """Return the member record, `left` for a known user outside the chat."""
        if not isinstance(user_id, int) or (user_id not in self.users and user_id != self.bot.id):
            raise ApiError(400, "Bad Request: user not found")
        member = chat.members.get(user_id)
        if member is None:
            return Member(self.users[user_id], "left")
        self._expire(member)
        return member

    def _expire(self, member: Member) -> None:
        if member.status == "restricted" and 0 < member.until_date <= self.clock():
            member.status, member.permissions, member.until_date = "member", {}, 0

    def bot_member(self, chat: FakeChat) -> Member:
        """Return the bot's own member record in `chat`."""
        return chat.members.get(self.bot.id) or Member(self.bot, "left")

    def require_bot_right(self, chat: FakeChat, right: str, action: str) -> None:
        """Raise `not enough rights to <action>` unless the bot holds `right` in `chat`."""
        if chat.type == "private" or not self.bot_member(chat).right(right):
            raise ApiError(400, f"Bad Request: not enough rights to {action}")

    def can_post(self, chat: FakeChat, user: FakeUser, thread_id: int | None) -> bool:
        """Whether `user` may post a text message in `chat` (and topic `thread_id`) now."""
        if chat.type == "private":
            return True
        member = self.member(chat, user.id) if user.id in chat.members else None
        if member is not None and member.is_admin:
            return True
        if member is not None and member.status in ("left", "kicked"):
            return False
        topic = chat.topics.get(thread_id) if thread_id is not None else None
        if topic is not None and topic.is_closed:
            return False
        if member is not None and member.status == "restricted":
            return member.permissions.get("can_send_messages", True)
        return chat.permissions.get("can_send_messages", True)

    def thread_of(self, chat: FakeChat, thread_id: Any, reply_to: JSON | None) -> int | None:
        """Resolve the topic a new message goes to, or raise `message thread not found`."""
        if thread_id in (None, 0, GENERAL_TOPIC_ID) and reply_to is not None:
            thread_id = reply_to.get("message_thread_id")
        if thread_id in (None, 0) or (chat.is_forum and thread_id == GENERAL_TOPIC_ID):
            return None
        if chat.is_forum and thread_id in chat.topics:
            return int(thread_id)
        if not chat.is_forum and chat.type == "supergroup" and thread_id in chat.messages:
            return int(thread_id)  # a reply thread in an ordinary supergroup
        raise ApiError(400, "Bad Request: message thread not found")

    def new_message(
        self,
        chat: FakeChat,
        sender: FakeUser,
        *,
        thread_id: int | None = None,
        reply_to: JSON | None = None,
        **content: Any,
    ) -> JSON:
        """Store and return a new Message in `chat` (content: text, entities, service fields)."""
        message: JSON = {
            "message_id": chat.take_message_id(),
            "from": sender.to_api(),
            "date": self.clock(),
            "chat": chat.to_api(),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
                # As in real forums: a message in a topic that replies to nothing carries the
                # topic's creation message as reply_to_message.
                reply_to = reply_to or chat.messages.get(thread_id)
        if reply_to is not None:
            message["reply_to_message"] = {
                k: v for k, v in reply_to.items() if k != "reply_to_message"
            }
        message |= {key: value for key, value in content.items() if value not in (None, [])}
        chat.messages[message["message_id"]] = message
        return message

    def message(self, chat: FakeChat, message_id: Any, missing: str) -> JSON:
        """Return a live message of `chat`, or raise 400 with `missing`."""
        message = chat.messages.get(message_id) if isinstance(message_id, int) else None
        if message is None or message_id in chat.deleted:
            raise ApiError(400, f"Bad Request: {missing}")
        return message
