"""python-telegram-bot objects -> core events: pure functions, ``None`` for what Longform ignores.

Ignored: private chats and channels, groups the config does not name, topics it does not watch,
bots (Longform's own messages included), posts sent on behalf of a chat (anonymous admins, linked
channels), commands, and service messages without text. A group becomes the community
``telegram:<chat id>`` with the chat id as channel; a message in a forum topic belongs to the
conversation ``thread = <topic id>``. Message ids are per chat on Telegram, so the core sees
``<chat id>:<message id>``. In a forum topic every message "replies" to the topic's creation message
(``message_id == message_thread_id``): that is not a reply. Mentions come from entities: a text
mention carries its user; an ``@username`` is resolved through the roster, and dropped if unknown.
Time comes from the message (``date``, ``edit_date``), never read here.
"""

from __future__ import annotations

from collections.abc import Mapping

from telegram import ChatMember, ChatMemberUpdated, Message, MessageEntity

from adapters.telegram.community import Community, Known, message_ref
from adapters.telegram.roster import Roster
from bot.core.events import MemberJoined, MessageEdited, MessagePosted
from bot.runtime.gateway import CommunityRef

PLATFORM = "telegram"
GROUP_TYPES = frozenset({"group", "supergroup"})
ADMIN_ROLES = frozenset({"admin", "moderator"})  # what a policy's exempt_roles can name
_PRESENT = frozenset({ChatMember.MEMBER, ChatMember.RESTRICTED, ChatMember.ADMINISTRATOR,
                      ChatMember.OWNER})  # fmt: skip


def topic_of(message: Message) -> int | None:
    """The forum topic a message is in, or None (a plain group, or a forum's General topic)."""
    return message.message_thread_id if message.is_topic_message else None


def _judged(message: Message, known: Known) -> Community | None:
    """The community of a member's message Longform judges, or None."""
    community = known.get(message.chat_id)
    author = message.from_user
    if community is None or message.chat.type not in GROUP_TYPES:
        return None
    if author is None or author.is_bot or message.sender_chat is not None:
        return None
    if not community.watches(topic_of(message)):
        return None
    return community


def _text(message: Message) -> str | None:
    text = message.text if message.text is not None else message.caption
    return text if text and text.strip() else None


def is_command(message: Message) -> bool:
    """Whether the message starts with a bot command (``/why``): commands are not conversation."""
    entities = message.entities or ()
    return any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0 for e in entities)


def reply_of(message: Message) -> tuple[str | None, str | None]:
    """(replied-to message id, its author id) when the message really replies to another."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None, None
    if message.is_topic_message and replied.message_id == message.message_thread_id:
        return None, None  # the topic's creation message, not a reply
    author = replied.from_user
    ref = message_ref(message.chat_id, replied.message_id)
    if author is None or replied.sender_chat is not None:
        return ref, None
    return ref, str(author.id)


def mentions_of(message: Message, usernames: Mapping[str, int], bot_id: int) -> tuple[str, ...]:
    """Ids of the users a message mentions (text mentions, and @usernames the roster knows)."""
    found: list[int] = []
    parsed = (
        message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
        if message.text is not None
        else message.parse_caption_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    )
    for entity, text in parsed.items():
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            found.append(entity.user.id)
        elif entity.type == MessageEntity.MENTION:
            user = usernames.get(text.lstrip("@").lower())
            if user is not None:
                found.append(user)
    return tuple(dict.fromkeys(str(u) for u in found if u != bot_id))


def message_posted(
    message: Message, known: Known, roster: Roster, bot_id: int
) -> MessagePosted | None:
    """The core event for a member's message in a served group, or None."""
    community = _judged(message, known)
    text = _text(message)
    if community is None or text is None or is_command(message):
        return None
    author = message.from_user
    assert author is not None  # _judged checked it
    reply_to, reply_to_author = reply_of(message)
    topic = topic_of(message)
    admin = roster.is_admin(message.chat_id, author.id)
    return MessagePosted(
        id=message_ref(message.chat_id, message.message_id), at=message.date,
        community=community.key, channel=str(message.chat_id),
        author=str(author.id), text=text, thread=str(topic) if topic is not None else "",
        reply_to=reply_to, reply_to_author=reply_to_author,
        mentions=mentions_of(message, roster.usernames, bot_id),
        author_joined_at=roster.joined.get((message.chat_id, author.id)),
        author_roles=ADMIN_ROLES if admin else frozenset(),
    )  # fmt: skip


def message_edited(message: Message, known: Known) -> MessageEdited | None:
    """The core event for an edited message in a served group, or None."""
    text = _text(message)
    if _judged(message, known) is None or text is None or is_command(message):
        return None
    at = message.edit_date or message.date
    return MessageEdited(id=message_ref(message.chat_id, message.message_id), at=at, text=text)


def members_joined(message: Message, known: Known) -> list[MemberJoined]:
    """One MemberJoined per human in a ``new_chat_members`` service message of a served group."""
    community = known.get(message.chat_id)
    if community is None or message.chat.type not in GROUP_TYPES:
        return []
    return [
        MemberJoined(at=message.date, community=community.key, user=str(user.id))
        for user in message.new_chat_members or ()
        if not user.is_bot
    ]


def member_joined(change: ChatMemberUpdated, known: Known) -> MemberJoined | None:
    """The core event for a ``chat_member`` update in which a human entered a served group."""
    community = known.get(change.chat.id)
    user = change.new_chat_member.user
    if community is None or user.is_bot:
        return None
    was = _is_present(change.old_chat_member)
    if was or not _is_present(change.new_chat_member):
        return None
    return MemberJoined(at=change.date, community=CommunityRef(PLATFORM, str(change.chat.id)).key,
                        user=str(user.id))  # fmt: skip


def admin_change(change: ChatMemberUpdated) -> tuple[int, int, bool] | None:
    """(chat id, user id, is admin now) when a ``chat_member`` update changes someone's admin
    standing, else None."""
    admin = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
    before = change.old_chat_member.status in admin
    after = change.new_chat_member.status in admin
    if before == after:
        return None
    return change.chat.id, change.new_chat_member.user.id, after


def _is_present(member: ChatMember) -> bool:
    if member.status == ChatMember.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in _PRESENT
