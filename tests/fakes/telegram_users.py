"""The user side of the fake Telegram server: what members do, queued as updates for the bot.

How it works: each action changes the `World` the way the Telegram client would (a new message, an
edit, a join, a button press) and queues the matching update (`message`, `edited_message`,
`chat_member`, `callback_query`). Actions Telegram would refuse raise `UserCannotPostError`, so a test
can check that a restriction or a closed topic really holds. Privacy mode decides what a non-admin bot
gets to see.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.telegram_text import detect_entities
from tests.fakes.telegram_world import FakeChat, FakeUser, Member, UserCannotPostError, World

JSON = dict[str, Any]


class UserActions:
    """Mixed into FakeTelegramServer, which provides the world, the bot and the update queue."""

    world: World
    bot: FakeUser
    _next_query_id: int

    def _queue(self, kind: str, payload: JSON) -> JSON:
        raise NotImplementedError

    def _visible(self, chat: FakeChat, message: JSON) -> bool:
        """Privacy mode: a non-admin bot sees commands, mentions of it and replies to it only."""
        if chat.type == "private" or not self.world.privacy_mode:
            return True
        if self.world.bot_member(chat).is_admin or "text" not in message:
            return True
        replied = message.get("reply_to_message", {}).get("from", {}).get("id")
        mention = f"@{self.bot.username}".lower()
        text = message["text"]
        return text.startswith("/") or mention in text.lower() or replied == self.bot.id

    def user_sends(
        self,
        chat_id: int,
        user: FakeUser,
        text: str,
        *,
        reply_to: int | None = None,
        thread_id: int | None = None,
        entities: list[JSON] | None = None,
    ) -> JSON:
        """Post `text` as `user` and queue a `message` update; returns the Message.

        Mentions, /commands and URLs get entities as a Telegram client would send them. In a forum,
        a reply inherits the replied message's topic. Raises UserCannotPostError where Telegram would
        refuse (a restricted member, a closed topic, a member who left).
        """
        chat = self._chat_for(chat_id, user)
        target = self.world.message(chat, reply_to, "no such message") if reply_to else None
        thread = self.world.thread_of(chat, thread_id, target)
        if not self.world.can_post(chat, user, thread):
            raise UserCannotPostError(f"{user.first_name} cannot post in chat {chat_id} now")
        message = self.world.new_message(
            chat,
            user,
            thread_id=thread,
            reply_to=target,
            text=text,
            entities=detect_entities(text) if entities is None else entities,
        )
        if self._visible(chat, message):
            self._queue("message", message)
        return message

    def _chat_for(self, chat_id: int, user: FakeUser) -> FakeChat:
        self.world.add_user(user)
        if chat_id == user.id:
            self.world.reachable.add(user.id)  # writing to the bot opens the private chat
            return self.world.private_chat(user)
        chat = self.world.chat(chat_id)
        if user.id not in chat.members:
            chat.members[user.id] = Member(user, "member")
        return chat

    def user_edits(self, chat_id: int, message_id: int, text: str) -> JSON:
        """Edit a user's message and queue an `edited_message` update; returns the Message."""
        chat = self.world.chat(chat_id)
        message = self.world.message(chat, message_id, "no such message")
        message.update(text=text, entities=detect_entities(text), edit_date=self.world.clock())
        if not message["entities"]:
            del message["entities"]
        if self._visible(chat, message):
            self._queue("edited_message", message)
        return message

    def user_starts_bot(self, user: FakeUser, payload: str | None = None) -> JSON:
        """Send `/start [payload]` in private; from now on the bot may message `user`."""
        self.world.blocked.discard(user.id)
        text = "/start" if payload is None else f"/start {payload}"
        return self.user_sends(user.id, user, text)

    def user_blocks_bot(self, user: FakeUser) -> None:
        """From now on private messages to `user` fail with 403 `bot was blocked by the user`."""
        self.world.add_user(user)
        self.world.blocked.add(user.id)

    def user_joins(self, chat_id: int, user: FakeUser) -> JSON:
        """Add `user` to the chat: a `new_chat_members` message, and a `chat_member` update
        (delivered only if the bot is an admin and asked for `chat_member` in allowed_updates)."""
        return self._membership(chat_id, user, joined=True)

    def user_leaves(self, chat_id: int, user: FakeUser) -> JSON:
        """Remove `user`: a `left_chat_member` message and a `chat_member` update."""
        return self._membership(chat_id, user, joined=False)

    def _membership(self, chat_id: int, user: FakeUser, *, joined: bool) -> JSON:
        chat = self.world.chat(chat_id)
        old = self.world.member(chat, self.world.add_user(user).id).to_api()
        chat.members[user.id] = Member(user, "member" if joined else "left")
        service = (
            {"new_chat_members": [user.to_api()]} if joined else {"left_chat_member": user.to_api()}
        )
        message = self.world.new_message(chat, user, **service)
        self._queue("message", message)
        if self.world.bot_member(chat).is_admin:
            change = {
                "chat": chat.to_api(),
                "from": user.to_api(),
                "date": self.world.clock(),
                "old_chat_member": old,
                "new_chat_member": chat.members[user.id].to_api(),
            }
            self._queue("chat_member", change)
        return message

    def press_button(
        self, message_id: int, data: str, user: FakeUser, *, chat_id: int | None = None
    ) -> str:
        """Press the inline button with callback `data` on a bot message; returns the query id."""
        message = self._message_with_button(message_id, data, chat_id)
        query_id = str(self._next_query_id)
        self._next_query_id += 1
        self.world.callback_queries[query_id] = False
        query = {
            "id": query_id,
            "from": self.world.add_user(user).to_api(),
            "message": message,
            "chat_instance": str(abs(message["chat"]["id"]) * 31 % 10**12),
            "data": data,
        }
        self._queue("callback_query", query)
        return query_id

    def _message_with_button(self, message_id: int, data: str, chat_id: int | None) -> JSON:
        chats = [self.world.chat(chat_id)] if chat_id is not None else self.world.chats.values()
        for chat in chats:
            message = chat.messages.get(message_id)
            if message is None or message_id in chat.deleted:
                continue
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if any(button.get("callback_data") == data for row in rows for button in row):
                return message
        raise ValueError(f"no live message {message_id} with a button {data!r}")
