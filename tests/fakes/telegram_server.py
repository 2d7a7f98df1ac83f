"""A fake Telegram Bot API server on 127.0.0.1 for driving the real python-telegram-bot in tests.

How it works: an aiohttp app in the test's event loop answers `/bot<TOKEN>/<method>` like
api.telegram.org: form-encoded or JSON parameters in (PTB JSON-encodes every non-string value, so
`chat_id` arrives as "-1001"), `{"ok": true, "result": ...}` or `{"ok": false, "error_code": ...}`
out. The methods and their rules live in `telegram_methods` over a `telegram_world.World`, and the
user side (`user_sends`, `press_button`, ...) in `telegram_users`; this module adds the HTTP edge,
long-polling getUpdates (released at `stop()`), per-method error injection, the update queue and the
recording of every call. Every change fires a signal, so `wait_for` re-checks its predicate at once
instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypeVar

from aiohttp import web

from tests.fakes.telegram_methods import METHODS
from tests.fakes.telegram_users import UserActions
from tests.fakes.telegram_webhook import WebhookPusher
from tests.fakes.telegram_world import (
    ApiError,
    FakeChat,
    FakeUser,
    Member,
    Restriction,
    Topic,
    World,
)

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_TOKEN = "123456789:TEST-token_for-the-fake-server"
# Parameters that are strings even when they look like JSON ("123", "true").
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "name",
        "icon_custom_emoji_id",
        "url",
        "title",
        "description",
        "language_code",
        "inline_message_id",
        "custom_title",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "action",
    }
)
# Telegram's default when allowed_updates was never set or set to [].
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class ApiCall:
    """One request the bot made: method as sent, decoded params, and how it was answered."""

    method: str
    params: JSON
    status: int = 0
    result: Any = None
    description: str | None = None


@dataclass
class _Forced:
    status: int | None
    description: str | None
    retry_after: int | None
    delay: float


@dataclass
class _Signal:
    """Wakes every waiter when the server's state changes."""

    _event: asyncio.Event | None = field(default=None)

    def fire(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, timeout: float) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0)):
                await event.wait()


def _decode(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id "@channelusername"


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class FakeTelegramServer(UserActions):
    """The fake Bot API. `await start()` binds 127.0.0.1 on a free port; `await stop()` ends it."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "longform_test_bot",
        bot_name: str = "Longform",
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.token = token
        self.bot = FakeUser(int(token.split(":")[0]), bot_name, username=bot_username, is_bot=True)
        self.world = World(self.bot) if clock is None else World(self.bot, clock=clock)
        self._calls: list[ApiCall] = []
        self._forced: defaultdict[str, deque[_Forced]] = defaultdict(deque)
        self._updates: list[JSON] = []
        self._next_update_id = 1
        self._allowed: frozenset[str] | None = None
        self._next_query_id = 4_000_000_000
        self._signal = _Signal()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.webhook = WebhookPusher(self)
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> Self:
        """Bind 127.0.0.1 on a free port and serve; returns self."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Release pending long polls and delayed answers, then close the server."""
        self._closing.set()
        self._signal.fire()
        await self.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)`: PTB appends the token and the method."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For `ApplicationBuilder().base_file_url(...)` (files are not served: 404)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- configuration -------------------------------------------------------------------------

    def add_user(self, user_id: int, first_name: str, username: str | None = None) -> FakeUser:
        """Register and return a user (who has not started the bot)."""
        return self.world.add_user(FakeUser(user_id, first_name, username=username))

    def add_group(self, chat_id: int, title: str, **options: Any) -> FakeChat:
        """Create a (super)group; options as `World.add_group` (forum, bot_admin, bot_rights...)."""
        chat = self.world.add_group(chat_id, title, **options)
        self._signal.fire()
        return chat

    def add_topic(self, chat_id: int, name: str, *, by: FakeUser) -> Topic:
        """Create a forum topic as member `by` would (not the bot: it needs rights to manage it)."""
        chat = self._chat_for(chat_id, by)
        if not chat.is_forum:
            raise ValueError(f"chat {chat_id} is not a forum")
        topic = Topic(chat.next_message_id, name)
        chat.topics[topic.message_thread_id] = topic
        created = {"name": name, "icon_color": topic.icon_color}
        self.world.new_message(
            chat, by, thread_id=topic.message_thread_id, forum_topic_created=created
        )
        self._signal.fire()
        return topic

    def set_privacy_mode(self, enabled: bool) -> None:
        """With privacy on, a non-admin bot sees only commands, mentions and replies to it."""
        self.world.privacy_mode = enabled

    # -- error injection -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 400,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with an error (429 sets retry_after)."""
        if status == 429:
            retry_after = retry_after or 1
            description = description or f"Too Many Requests: retry after {retry_after}"
        description = description or _DEFAULT_DESCRIPTIONS.get(status, "Error")
        for _ in range(times):
            self._forced[method.lower()].append(_Forced(status, description, retry_after, 0.0))

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` answers of `method` for `seconds` (to force client timeouts)."""
        for _ in range(times):
            self._forced[method.lower()].append(_Forced(None, None, None, seconds))

    # -- the HTTP edge -------------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.Response:
        return web.json_response(ApiError(404, "Not Found").to_api(), status=404)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = ApiCall(method, await _read_params(request))
        self._calls.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            await self._apply_forced(method)
            call.result = await self._dispatch(method, call.params)
            call.status = 200
            body: JSON = {"ok": True, "result": call.result}
        except ApiError as error:
            call.status, call.description, body = error.code, error.description, error.to_api()
        self._signal.fire()
        return web.json_response(body, status=call.status)

    async def _apply_forced(self, method: str) -> None:
        queue = self._forced.get(method.lower())
        if not queue:
            return
        forced = queue.popleft()
        if forced.delay:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(forced.delay):
                    await self._closing.wait()
        if forced.status is not None:
            params = {"retry_after": forced.retry_after} if forced.retry_after else None
            raise ApiError(forced.status, forced.description or "Error", params)

    async def _dispatch(self, method: str, params: JSON) -> Any:
        name = method.lower()
        if name == "getupdates":
            if self.webhook.active:
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                               "active; use deleteWebhook to delete the webhook first")  # fmt: skip
            return await self._get_updates(params)
        if name in ("deletewebhook", "setwebhook"):
            return await self._set_webhook(name, params)
        if name == "getwebhookinfo":
            return self.webhook.info(len(self._updates))
        handler = METHODS.get(name)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(self.world, params)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        if params.get("allowed_updates") is not None:
            self._allowed = frozenset(params["allowed_updates"]) or None
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while True:
            self._updates = [u for u in self._updates if self._wanted(u)]
            if self._updates or self._closing.is_set() or loop.time() >= deadline:
                return self._updates[:limit]
            await self._signal.wait(deadline - loop.time())

    async def _set_webhook(self, name: str, params: JSON) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if name == "deletewebhook":
            await self.webhook.stop()
            return True
        if params.get("allowed_updates") is not None:
            self._allowed = frozenset(params["allowed_updates"]) or None
        return self.webhook.set(params)

    # -- for the webhook pusher ----------------------------------------------------------------

    def next_update(self) -> JSON | None:
        """The oldest queued update the bot asked for, or None."""
        self._updates = [u for u in self._updates if self._wanted(u)]
        return self._updates[0] if self._updates and not self._closing.is_set() else None

    def confirm(self, update_id: int) -> None:
        """The bot accepted update `update_id`: drop it from the queue."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self._signal.fire()

    async def wait_for_change(self, timeout: float) -> None:
        """Wait until the server's state changes (or `timeout` seconds)."""
        await self._signal.wait(timeout)

    def _wanted(self, update: JSON) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed is None:
            return kind not in _NOT_BY_DEFAULT
        return kind in self._allowed

    # -- the user side: queue updates for the bot -----------------------------------------------

    def _queue(self, kind: str, payload: JSON) -> JSON:
        # A snapshot: later edits of the stored message must not change what was delivered.
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._signal.fire()
        return update

    # -- recording -----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every request so far (of `method`, case-insensitive), in order."""
        return [c for c in self._calls if method is None or c.method.lower() == method.lower()]

    def sent_messages(
        self, chat_id: int, thread_id: int | None = None, *, include_deleted: bool = False
    ) -> list[JSON]:
        """Text messages the bot posted in the chat (in topic `thread_id` if given), as they are now."""
        chat = self.world.chats.get(chat_id)
        if chat is None:
            return []
        return [
            m
            for m in chat.messages.values()
            if m["from"]["id"] == self.bot.id
            and "text" in m
            and (thread_id is None or m.get("message_thread_id") == thread_id)
            and (include_deleted or m["message_id"] not in chat.deleted)
        ]

    def message(self, chat_id: int, message_id: int) -> JSON:
        """A stored message (deleted ones included)."""
        return self.world.chats[chat_id].messages[message_id]

    def is_deleted(self, chat_id: int, message_id: int) -> bool:
        """Whether a message was deleted through deleteMessage."""
        return message_id in self.world.chats[chat_id].deleted

    def restrictions(self, chat_id: int, user_id: int | None = None) -> list[Restriction]:
        """Every restrictChatMember the server applied in the chat (for `user_id` if given)."""
        log = self.world.restriction_log
        return [r for r in log if r.chat_id == chat_id and user_id in (None, r.user_id)]

    def member(self, chat_id: int, user_id: int) -> Member:
        """A member's current standing (restrictions expire with the server clock)."""
        return self.world.member(self.world.chat(chat_id), user_id)

    def topics(self, chat_id: int) -> list[Topic]:
        """The forum topics of the chat, in creation order."""
        return list(self.world.chat(chat_id).topics.values())

    def callback_answers(self) -> list[JSON]:
        """The params of every successful answerCallbackQuery, in order."""
        return list(self.world.callback_answers)

    @property
    def updates_queued(self) -> int:
        """How many updates were queued for the bot so far (delivered or not)."""
        return self._next_update_id - 1

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates the bot has not yet confirmed (by asking getUpdates for a later offset)."""
        return list(self._updates)

    # -- waiting -------------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], T | Literal[False] | None], timeout: float = 5.0
    ) -> T:
        """Return the first truthy value of `predicate()`, re-checked on every change.

        Raises AssertionError after `timeout` seconds, listing the last calls the bot made.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"not met within {timeout} s; last calls: {self._recent()}")
            # Changes made only inside the bot (not through the API) fire nothing: re-check often.
            await self._signal.wait(min(remaining, 0.02))
        return value

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> ApiCall:
        """Return the first answered call of `method` (matching `predicate`)."""

        def found() -> ApiCall | None:
            matching = (
                c for c in self.calls(method) if c.status and (predicate is None or predicate(c))
            )
            return next(matching, None)

        return await self.wait_for(found, timeout)

    async def wait_until_delivered(self, timeout: float = 5.0) -> None:
        """Wait until the bot confirmed every queued update (handlers may still be running)."""
        await self.wait_for(lambda: not self._updates, timeout)

    def _recent(self, count: int = 8) -> str:
        calls = [c for c in self._calls if c.method.lower() != "getupdates"][-count:]
        return "; ".join(f"{c.method} -> {c.status} {c.description or ''}".strip() for c in calls)


async def _read_params(request: web.Request) -> JSON:
    """Decode query, form or JSON parameters the way the Bot API accepts them."""
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    raw: dict[str, str] = dict(request.query)
    if request.can_read_body:
        form = await request.post()
        raw |= {key: value for key, value in form.items() if isinstance(value, str)}
    return {key: _decode(key, value) for key, value in raw.items()}
