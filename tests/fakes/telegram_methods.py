"""The Bot API methods of the fake Telegram server, one function each, over a `World`.

How it works: `METHODS` maps a lower-cased method name to a function taking the world and the decoded
parameters; it returns the `result` to send or raises `ApiError` with Telegram's own wording for the
failures a moderation bot meets (no private chat started, missing admin rights, closed or unknown
topics, stale callback queries, MarkdownV2 escaping). getUpdates and the webhook methods need the
update queue and live in the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram_text import render
from tests.fakes.telegram_world import (
    DAY,
    PERMISSION_KEYS,
    ApiError,
    FakeChat,
    Restriction,
    Topic,
    World,
)

JSON = dict[str, Any]
Method = Callable[[World, JSON], Any]


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _chat(world: World, p: JSON, key: str = "chat_id") -> FakeChat:
    if p.get(key) in (None, ""):
        raise _bad(f"{key} is empty")
    return world.chat(p[key])


def _require_forum(chat: FakeChat) -> None:
    if not chat.is_forum:
        raise _bad("the chat is not a forum")


def _topic(chat: FakeChat, p: JSON) -> Topic:
    _require_forum(chat)
    topic = chat.topics.get(p.get("message_thread_id"))  # type: ignore[arg-type]
    if topic is None:
        raise _bad("TOPIC_ID_INVALID")
    return topic


def get_me(world: World, p: JSON) -> JSON:
    """getMe: the bot's User with the bot-only flags."""
    return world.bot.to_api() | {
        "can_join_groups": True,
        "can_read_all_group_messages": not world.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def _check_reachable(world: World, chat: FakeChat) -> None:
    """Private chats need the user to have started the bot; groups need the bot inside."""
    if chat.type == "private":
        if chat.id in world.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.id not in world.reachable:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return
    status = world.bot_member(chat).status
    if status == "kicked":
        raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
    if status == "left":
        raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")


def _check_bot_can_post(world: World, chat: FakeChat, thread_id: int | None) -> None:
    topic = chat.topics.get(thread_id) if thread_id is not None else None
    if (
        topic is not None
        and topic.is_closed
        and not world.bot_member(chat).right("can_manage_topics")
    ):
        raise _bad("TOPIC_CLOSED")
    if not world.can_post(chat, world.bot, thread_id):
        raise _bad("not enough rights to send text messages to the chat")


def _reply_target(world: World, chat: FakeChat, p: JSON) -> JSON | None:
    params = p.get("reply_parameters") or {}
    if not params and p.get("reply_to_message_id") is not None:
        params = {
            "message_id": p["reply_to_message_id"],
            "allow_sending_without_reply": p.get("allow_sending_without_reply", False),
        }
    if not params:
        return None
    target = chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]
    if target is None or target["message_id"] in chat.deleted:
        if params.get("allow_sending_without_reply"):
            return None
        raise _bad("message to be replied not found")
    return target


def _inline_markup(markup: Any) -> JSON | None:
    """Validate an inline keyboard; other keyboards are accepted but not echoed in the Message."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
            if not button.get("text"):
                raise _bad("can't parse inline keyboard button: Text must be non-empty")
            if len(actions) != 1:
                raise _bad(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _bad("BUTTON_DATA_INVALID")
    return markup


def send_message(world: World, p: JSON) -> JSON:
    """sendMessage: text (parse_mode/entities), replies, topics, inline keyboards."""
    chat = _chat(world, p)
    _check_reachable(world, chat)
    reply_to = _reply_target(world, chat, p)
    thread_id = world.thread_of(chat, p.get("message_thread_id"), reply_to)
    _check_bot_can_post(world, chat, thread_id)
    text, entities = render(p.get("text"), p.get("parse_mode"), p.get("entities"))
    markup = _inline_markup(p.get("reply_markup"))
    return world.new_message(
        chat,
        world.bot,
        thread_id=thread_id,
        reply_to=reply_to,
        text=text,
        entities=entities,
        reply_markup=markup,
    )


def _own_message(world: World, p: JSON) -> tuple[FakeChat, JSON]:
    if p.get("inline_message_id"):
        raise _bad("inline messages are not supported by the fake")
    chat = _chat(world, p)
    message = world.message(chat, p.get("message_id"), "message to edit not found")
    if message["from"]["id"] != world.bot.id or "text" not in message:
        raise _bad("message can't be edited")
    return chat, message


def _not_modified() -> ApiError:
    return _bad(
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )


def edit_message_text(world: World, p: JSON) -> JSON:
    """editMessageText: like Telegram, omitting reply_markup removes the inline keyboard."""
    _, message = _own_message(world, p)
    text, entities = render(p.get("text"), p.get("parse_mode"), p.get("entities"))
    markup = _inline_markup(p.get("reply_markup"))
    new = {"text": text, "entities": entities, "reply_markup": markup}
    if all(message.get(key) == (value or None) for key, value in new.items()):
        raise _not_modified()
    _apply_edit(world, message, new)
    return message


def edit_message_reply_markup(world: World, p: JSON) -> JSON:
    """editMessageReplyMarkup: replace or (when omitted) remove the inline keyboard."""
    _, message = _own_message(world, p)
    markup = _inline_markup(p.get("reply_markup"))
    if message.get("reply_markup") == markup:
        raise _not_modified()
    _apply_edit(world, message, {"reply_markup": markup})
    return message


def _apply_edit(world: World, message: JSON, new: JSON) -> None:
    for key, value in new.items():
        if value:
            message[key] = value
        else:
            message.pop(key, None)
    message["edit_date"] = world.clock()


def delete_message(world: World, p: JSON) -> bool:
    """deleteMessage: others' messages need can_delete_messages; 48 hours at most."""
    chat = _chat(world, p)
    message = world.message(chat, p.get("message_id"), "message to delete not found")
    own = message["from"]["id"] == world.bot.id
    if (
        not own
        and chat.type != "private"
        and not world.bot_member(chat).right("can_delete_messages")
    ):
        raise _bad("message can't be deleted")
    if world.clock() - message["date"] > 2 * DAY:
        raise _bad("message can't be deleted for everyone")
    chat.deleted.add(message["message_id"])
    return True


def answer_callback_query(world: World, p: JSON) -> bool:
    """answerCallbackQuery: each query can be answered once."""
    query_id = str(p.get("callback_query_id"))
    if world.callback_queries.get(query_id, True):
        raise _bad("query is too old and response timeout expired or query ID is invalid")
    if len(str(p.get("text") or "")) > 200:
        raise _bad("MESSAGE_TOO_LONG")
    world.callback_queries[query_id] = True
    world.callback_answers.append(dict(p))
    return True


def get_chat(world: World, p: JSON) -> JSON:
    """getChat: a ChatFullInfo (slow_mode_delay is read-only: no method sets it)."""
    chat = _chat(world, p)
    info = chat.to_api() | {
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"), False
        )
        | {"gifts_from_channels": False},
    }
    if chat.type != "private":
        info["permissions"] = dict(chat.permissions)
    if chat.slow_mode_delay:
        info["slow_mode_delay"] = chat.slow_mode_delay
    return info


def get_chat_member(world: World, p: JSON) -> JSON:
    """getChatMember: status-specific ChatMember, `left` for known users outside the chat."""
    chat = _chat(world, p)
    return world.member(chat, p.get("user_id")).to_api()


def get_chat_administrators(world: World, p: JSON) -> list[JSON]:
    """getChatAdministrators: the creator and administrators, the bot included."""
    chat = _chat(world, p)
    if chat.type == "private":
        raise _bad("there are no administrators in the private chat")
    return [m.to_api() for m in chat.members.values() if m.is_admin]


def get_chat_member_count(world: World, p: JSON) -> int:
    """getChatMemberCount: members not left or kicked."""
    chat = _chat(world, p)
    return sum(m.status not in ("left", "kicked") for m in chat.members.values())


def _permissions(p: JSON) -> dict[str, bool]:
    given = p.get("permissions")
    if not isinstance(given, dict):
        raise _bad("permissions must be an object")
    return {key: bool(given.get(key, False)) for key in PERMISSION_KEYS}


def restrict_chat_member(world: World, p: JSON) -> bool:
    """restrictChatMember: supergroups only, needs can_restrict_members; logged with until_date."""
    chat = _chat(world, p)
    if chat.type != "supergroup":
        raise _bad("method is available only for supergroups")
    world.require_bot_right(chat, "can_restrict_members", "restrict/unrestrict chat member")
    if p.get("user_id") == world.bot.id:
        raise _bad("can't restrict self")
    member = world.member(chat, p.get("user_id"))
    if member.status == "creator":
        raise _bad("can't remove chat owner")
    if member.status == "administrator":
        raise _bad("user is an administrator of the chat")
    permissions = _permissions(p)
    restriction = Restriction(
        chat.id, member.user.id, permissions, int(p.get("until_date") or 0), world.clock()
    )
    world.restriction_log.append(restriction)
    if all(permissions.values()):
        member.status, member.permissions, member.until_date = "member", {}, 0
    else:
        until = 0 if restriction.forever else restriction.until_date
        member.status, member.permissions, member.until_date = "restricted", permissions, until
    chat.members[member.user.id] = member
    return True


def set_chat_permissions(world: World, p: JSON) -> bool:
    """setChatPermissions: the chat's default permissions (omitted ones become False)."""
    chat = _chat(world, p)
    world.require_bot_right(chat, "can_restrict_members", "change chat permissions")
    chat.permissions = _permissions(p)
    world.permission_log.append((chat.id, dict(chat.permissions)))
    return True


def create_forum_topic(world: World, p: JSON) -> JSON:
    """createForumTopic: needs a forum and can_manage_topics; posts forum_topic_created."""
    chat = _chat(world, p)
    _require_forum(chat)
    world.require_bot_right(chat, "can_manage_topics", "create a topic")
    name = str(p.get("name") or "")
    if not 1 <= len(name) <= 128:
        raise _bad("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
    topic = Topic(
        chat.next_message_id,
        name,
        int(p.get("icon_color") or 7322096),
        p.get("icon_custom_emoji_id"),
        created_by_bot=True,
    )
    chat.topics[topic.message_thread_id] = topic
    created = {k: v for k, v in topic.to_api().items() if k != "message_thread_id"}
    world.new_message(
        chat, world.bot, thread_id=topic.message_thread_id, forum_topic_created=created
    )
    return topic.to_api()


def _manage_topic(world: World, p: JSON, action: str) -> Topic:
    chat = _chat(world, p)
    topic = _topic(chat, p)
    if not topic.created_by_bot:
        world.require_bot_right(chat, "can_manage_topics", f"{action} the topic")
    return topic


def _set_closed(world: World, p: JSON, closed: bool) -> bool:
    topic = _manage_topic(world, p, "close" if closed else "reopen")
    if topic.is_closed == closed:
        raise _bad("TOPIC_NOT_MODIFIED")
    topic.is_closed = closed
    service = "forum_topic_closed" if closed else "forum_topic_reopened"
    chat = world.chat(p["chat_id"])
    world.new_message(chat, world.bot, thread_id=topic.message_thread_id, **{service: {}})
    return True


def close_forum_topic(world: World, p: JSON) -> bool:
    """closeForumTopic: members can no longer post there (admins still can)."""
    return _set_closed(world, p, closed=True)


def reopen_forum_topic(world: World, p: JSON) -> bool:
    """reopenForumTopic."""
    return _set_closed(world, p, closed=False)


def edit_forum_topic(world: World, p: JSON) -> bool:
    """editForumTopic: new name and/or custom emoji icon."""
    topic = _manage_topic(world, p, "edit")
    edited: JSON = {}
    if p.get("name") is not None:
        topic.name = edited["name"] = str(p["name"])
    if p.get("icon_custom_emoji_id") is not None:
        topic.icon_custom_emoji_id = edited["icon_custom_emoji_id"] = p["icon_custom_emoji_id"]
    if not edited:
        raise _bad("TOPIC_NOT_MODIFIED")
    chat = world.chat(p["chat_id"])
    world.new_message(chat, world.bot, thread_id=topic.message_thread_id, forum_topic_edited=edited)
    return True


def _sources(world: World, p: JSON, ids: list[Any]) -> list[JSON]:
    if not 1 <= len(ids) <= 100 or not all(isinstance(i, int) for i in ids):
        raise _bad("message_ids must contain 1-100 message identifiers")
    if ids != sorted(set(ids)):
        raise _bad("message identifiers must be specified in strictly increasing order")
    source = _chat(world, p, "from_chat_id")
    found = [source.messages[i] for i in ids if i in source.messages and i not in source.deleted]
    return [m for m in found if "text" in m]


def _repost(world: World, p: JSON, originals: list[JSON], *, forward: bool) -> list[JSON]:
    chat = _chat(world, p)
    _check_reachable(world, chat)
    thread_id = world.thread_of(chat, p.get("message_thread_id"), None)
    _check_bot_can_post(world, chat, thread_id)
    posted = []
    for original in originals:
        extra: JSON = {}
        if forward:
            origin = {"type": "user", "sender_user": original["from"], "date": original["date"]}
            extra["forward_origin"] = origin
        posted.append(
            world.new_message(
                chat,
                world.bot,
                thread_id=thread_id,
                text=original["text"],
                entities=original.get("entities"),
                **extra,
            )
        )
    return posted


def copy_messages(world: World, p: JSON) -> list[JSON]:
    """copyMessages: 1-100 increasing ids; service and missing messages are skipped."""
    originals = _sources(world, p, list(p.get("message_ids") or []))
    return [{"message_id": m["message_id"]} for m in _repost(world, p, originals, forward=False)]


def forward_messages(world: World, p: JSON) -> list[JSON]:
    """forwardMessages: like copyMessages, with forward_origin on each copy."""
    originals = _sources(world, p, list(p.get("message_ids") or []))
    return [{"message_id": m["message_id"]} for m in _repost(world, p, originals, forward=True)]


def copy_message(world: World, p: JSON) -> JSON:
    """copyMessage: one message, returns its MessageId."""
    originals = _sources(world, p, [p.get("message_id")])
    if not originals:
        raise _bad("message to copy not found")
    return {"message_id": _repost(world, p, originals, forward=False)[0]["message_id"]}


def forward_message(world: World, p: JSON) -> JSON:
    """forwardMessage: one message, returns the new Message with forward_origin."""
    originals = _sources(world, p, [p.get("message_id")])
    if not originals:
        raise _bad("message to forward not found")
    return _repost(world, p, originals, forward=True)[0]


def _command_key(p: JSON) -> tuple[str, str]:
    scope = p.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")


def set_my_commands(world: World, p: JSON) -> bool:
    """setMyCommands: per scope and language; commands are 1-32 of [a-z0-9_]."""
    commands = list(p.get("commands") or [])
    for command in commands:
        name = str(command.get("command", ""))
        if not 1 <= len(name) <= 32 or not all(
            c.islower() or c.isdigit() or c == "_" for c in name
        ):
            raise _bad("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise _bad("command description must be 1-256 characters")
    world.commands[_command_key(p)] = commands
    return True


def get_my_commands(world: World, p: JSON) -> list[JSON]:
    """getMyCommands: the list set for exactly this scope and language."""
    return world.commands.get(_command_key(p), [])


def delete_my_commands(world: World, p: JSON) -> bool:
    """deleteMyCommands."""
    world.commands.pop(_command_key(p), None)
    return True


def send_chat_action(world: World, p: JSON) -> bool:
    """sendChatAction: accepted wherever the bot may post."""
    chat = _chat(world, p)
    _check_reachable(world, chat)
    return True


METHODS: dict[str, Method] = {
    "getme": get_me,
    "sendmessage": send_message,
    "editmessagetext": edit_message_text,
    "editmessagereplymarkup": edit_message_reply_markup,
    "deletemessage": delete_message,
    "answercallbackquery": answer_callback_query,
    "getchat": get_chat,
    "getchatmember": get_chat_member,
    "getchatadministrators": get_chat_administrators,
    "getchatmembercount": get_chat_member_count,
    "restrictchatmember": restrict_chat_member,
    "setchatpermissions": set_chat_permissions,
    "createforumtopic": create_forum_topic,
    "closeforumtopic": close_forum_topic,
    "reopenforumtopic": reopen_forum_topic,
    "editforumtopic": edit_forum_topic,
    "copymessages": copy_messages,
    "copymessage": copy_message,
    "forwardmessages": forward_messages,
    "forwardmessage": forward_message,
    "setmycommands": set_my_commands,
    "getmycommands": get_my_commands,
    "deletemycommands": delete_my_commands,
    "sendchataction": send_chat_action,
}
