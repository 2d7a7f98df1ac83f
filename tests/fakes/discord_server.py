"""A fake Discord (gateway over websocket + REST) on 127.0.0.1, for the real discord.py client.

How it works: `FakeDiscordServer` owns a `World` (one guild), the messages and the DM channels;
`Gateway` (discord_gateway.py), `Rest` (discord_rest.py, discord_http.py) and `Interactions`
(discord_interactions.py) serve them from one aiohttp app on an ephemeral port. Tests drive the
client as members would (`send_message`, `click_button`, ...), inspect what the bot did
(`sent_messages`, `dms`, `forum_posts`, ...), queue forced answers (`fail_next`, `hang_next`), and
wait with `wait_for`, never with sleeps. Start and stop it in the client's event loop. It imports
nothing from discord.py: it speaks the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from typing import Self, TypeVar

from aiohttp import web

from tests.fakes import discord_state as ds
from tests.fakes.discord_gateway import PRIVILEGED, Gateway, GatewaySettings
from tests.fakes.discord_http import (
    DiscordError,
    ForcedResponse,
    RecordedRequest,
    error_body,
    rate_limit,
)
from tests.fakes.discord_interactions import LOADING, InteractionResponse, Interactions
from tests.fakes.discord_rest import Rest
from tests.fakes.discord_state import FakeChannel, FakeUser, Ids, Json, World

T = TypeVar("T")
DEFAULT_TOKEN = "fake-discord-bot-token"
_MENTION = re.compile(r"<@!?(\d+)>")
_OPTION_TYPES = {str: 3, int: 4, bool: 5}

__all__ = ["DEFAULT_TOKEN", "FakeDiscordServer", "Ids", "InteractionResponse", "World"]


class FakeDiscordServer:
    """Discord for one bot and one guild. `world` may be changed until the client connects."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        world: World | None = None,
        require_message_content: bool = False,
        portal_intents: int = PRIVILEGED,
    ) -> None:
        self.token = token
        self.world = world or World.default()
        self.port = 0
        self.messages_by_id: dict[int, Json] = {}
        self.forum_post_log: dict[int, list[Json]] = {}
        self._by_channel: dict[int, list[int]] = {}
        self._bot_sent: dict[int, list[int]] = {}
        self._dm_by_user: dict[int, int] = {}
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        # What the gateway accepts; change it before the client connects (e.g. `settings.token`
        # alone to make IDENTIFY fail with 4004 after a successful REST login).
        self.settings = GatewaySettings(token, require_message_content, portal_intents)
        self.gateway = Gateway(self.world, self.settings, lambda: self.gateway_url, self.notify)
        self.rest = Rest(self)
        self.interactions = Interactions(self)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Release hanging requests, close every socket and the listener."""
        self._closing.set()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The value for `discord.http.Route.BASE`."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The value for `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (as a yarl.URL)."""
        return f"ws://127.0.0.1:{self.port}/gateway/"

    # -- waiting --------------------------------------------------------------------------------

    def notify(self) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Return the predicate's first truthy value; it is checked after every request or event
        the fake sees, and every 10 ms (for client-side state). TimeoutError after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [f"{r.method} {r.path} -> {r.status}" for r in self.rest.requests[-5:]]
                raise TimeoutError(f"not true after {timeout}s; last requests: {recent}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.01))

    async def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the server stops (used by `hang_next`)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # -- driving the client ---------------------------------------------------------------------

    async def dispatch(self, event: str, data: Json) -> None:
        """Send a raw gateway DISPATCH to the client."""
        await self.gateway.dispatch(event, data)

    async def send_message(
        self,
        channel_id: int,
        author_id: int,
        content: str,
        reply_to: int | None = None,
        mentions: tuple[int, ...] | list[int] = (),
        thread: int | None = None,
        *,
        mention_author: bool = True,
    ) -> Json:
        """A member posts in a channel (or in `thread`, a thread under it): MESSAGE_CREATE.

        Mentions are `mentions` plus `<@id>` in `content`, plus the replied-to author when
        `mention_author` (a reply is type 19 with `message_reference` and `referenced_message`).
        """
        target = thread if thread is not None else channel_id
        channel = self.guild_channel(target)
        if thread is not None and channel.parent_id != channel_id:
            raise ValueError(f"thread {thread} is not under channel {channel_id}")
        return await self._user_message(
            target, self.world.guild_id, author_id, content, reply_to, mentions, mention_author
        )

    async def send_dm(self, author_id: int, content: str, reply_to: int | None = None) -> Json:
        """A user writes to the bot in their DM channel: MESSAGE_CREATE without guild_id."""
        channel_id = int(self.dm_payload(author_id)["id"])
        return await self._user_message(channel_id, None, author_id, content, reply_to, (), False)

    async def _user_message(
        self,
        channel_id: int,
        guild_id: int | None,
        author_id: int,
        content: str,
        reply_to: int | None,
        mentions: tuple[int, ...] | list[int],
        mention_author: bool,
    ) -> Json:
        replied = None if reply_to is None else self.message(reply_to)
        ids = [*mentions, *(int(m) for m in _MENTION.findall(content))]
        if replied is not None and mention_author:
            ids.append(int(replied["author"]["id"]))
        message = ds.message_payload(
            channel_id=channel_id,
            guild_id=guild_id,
            author=self.user(author_id),
            content=content,
            reply_to=replied,
            mentions=[self.user(i) for i in dict.fromkeys(ids)],
        )
        await self.store_message(message, by_bot=False)
        return message

    async def edit_message(self, message_id: int, content: str) -> Json:
        """The author edits a message: MESSAGE_UPDATE with the full new payload."""
        message = self.message(message_id)
        await self.apply_edit(message, {"content": content})
        return message

    async def delete_message(self, message_id: int) -> None:
        """The message is deleted: MESSAGE_DELETE."""
        message = self.messages_by_id.pop(message_id)
        channel_id = int(message["channel_id"])
        self._by_channel[channel_id].remove(message_id)
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        await self.dispatch("MESSAGE_DELETE", event)

    async def member_join(self, user_id: int, username: str | None = None) -> Json:
        """A user joins the guild: GUILD_MEMBER_ADD (a new user unless `user_id` is known)."""
        user = self.world.users.get(user_id) or FakeUser(user_id, username or f"user{user_id}")
        user.in_guild, user.joined_at = True, ds.iso_now()
        self.world.users[user_id] = user
        payload = user.member_payload() | {"guild_id": str(self.world.guild_id)}
        await self.dispatch("GUILD_MEMBER_ADD", payload)
        return payload

    async def click_button(self, message_id: int, custom_id: str, user_id: int) -> int:
        """A member clicks an enabled button: INTERACTION_CREATE type 3. Returns its id."""
        message = self.message(message_id)
        buttons = [c for row in message["components"] for c in row.get("components", [])]
        button = next((b for b in buttons if b.get("custom_id") == custom_id), None)
        if button is None or button.get("type") != 2 or button.get("disabled"):
            raise LookupError(f"no enabled button {custom_id!r} on message {message_id}")
        return await self.interactions.click(message, button, self.user(user_id))

    async def run_command(
        self, channel_id: int, user_id: int, command: str, **options: str | int | bool
    ) -> int:
        """A member runs a slash command: INTERACTION_CREATE type 2. `command` may name a
        subcommand ("longform mode"); `options` are its arguments. Returns the interaction id."""
        name, *subcommands = command.split()
        values: list[Json] = [
            {"name": key, "type": _OPTION_TYPES[type(value)], "value": value}
            for key, value in options.items()
        ]
        for sub in reversed(subcommands):
            values = [{"name": sub, "type": 1, "options": values}]
        return await self.interactions.command(channel_id, self.user(user_id), name, values)

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the client's socket with a resumable code; it reconnects and RESUMEs, and
        events dispatched meanwhile are replayed."""
        await self.gateway.drop(code)

    # -- forced responses -----------------------------------------------------------------------

    def force_next(
        self,
        method: str,
        path: str,
        status: int | None,
        body: Json | None = None,
        headers: dict[str, str] | None = None,
        *,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests matching `method` and `path` (exact, or an fnmatch
        pattern like "/channels/*/messages", relative to /api/v10) with this status and body."""
        self.rest.forced.append(
            ForcedResponse(method.upper(), path, status, body, headers or {}, delay, times)
        )

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int | None = None,
        message: str | None = None,
        retry_after: float = 0.05,
        is_global: bool = False,
        times: int = 1,
    ) -> None:
        """Fail the next matching request(s) as Discord would: a 429 carries `retry_after` and
        the headers discord.py needs to wait and retry; others carry `{"code", "message"}`."""
        if status == 429:
            body, headers = rate_limit(retry_after, is_global=is_global)
            self.force_next(method, path, 429, body, headers, times=times)
        else:
            self.force_next(method, path, status, error_body(status, code, message), times=times)

    def hang_next(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next matching request(s) for `seconds`, then answer normally (stop() ends it)."""
        self.force_next(method, path, None, delay=seconds, times=times)

    # -- recording ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request the client made, in order."""
        return self.rest.requests

    @property
    def unhandled(self) -> list[RecordedRequest]:
        """Requests the fake has no route for (answered 404); assert this stays empty."""
        return self.rest.unhandled

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        probe = ForcedResponse(method.upper(), path, None)
        return [r for r in self.rest.requests if probe.matches(r.method, r.path)]

    def message(self, message_id: int) -> Json:
        return self.messages_by_id[message_id]

    def messages(self, channel_id: int) -> list[Json]:
        """Every live message in a channel, thread or DM channel, oldest first."""
        return [self.messages_by_id[m] for m in self._by_channel.get(channel_id, [])]

    def sent_messages(self, channel_id: int) -> list[Json]:
        """Messages the bot posted through REST in this channel (still live), oldest first."""
        return [
            self.messages_by_id[m]
            for m in self._bot_sent.get(channel_id, [])
            if m in self.messages_by_id
        ]

    def channel(self, channel_id: int) -> FakeChannel:
        return self.world.channels[channel_id]

    def dms(self, user_id: int) -> list[Json]:
        """Messages the bot delivered to this user's DMs (refused ones are only in `requests`)."""
        channel_id = self._dm_by_user.get(user_id)
        return [] if channel_id is None else self.sent_messages(channel_id)

    def forum_posts(self, forum_id: int) -> list[Json]:
        """Threads the bot created in a forum, each with its starter `message`."""
        return self.forum_post_log.get(forum_id, [])

    def interaction_responses(self) -> list[InteractionResponse]:
        """Callbacks, followups and edits the bot made, in order."""
        return list(self.interactions.responses)

    # -- state used by the REST handlers -------------------------------------------------------

    def user(self, user_id: int) -> FakeUser:
        user = self.world.users.get(user_id)
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return user

    def guild_channel(self, channel_id: int) -> FakeChannel:
        channel = self.world.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    def dm_recipient(self, channel_id: int) -> FakeUser | None:
        for user_id, dm_id in self._dm_by_user.items():
            if dm_id == channel_id:
                return self.world.users[user_id]
        return None

    def dm_payload(self, user_id: int) -> Json:
        user = self.user(user_id)
        channel_id = self._dm_by_user.setdefault(user_id, ds.snowflake())
        last = self._by_channel.get(channel_id, [])
        return {
            "id": str(channel_id),
            "type": ds.DM,
            "last_message_id": str(last[-1]) if last else None,
            "flags": 0,
            "recipients": [user.user_payload()],
        }

    def channel_payload(self, channel_id: int) -> Json:
        recipient = self.dm_recipient(channel_id)
        if recipient is not None:
            return self.dm_payload(recipient.id)
        return self.guild_channel(channel_id).payload(self.world.guild_id)

    async def store_message(self, message: Json, *, by_bot: bool) -> None:
        """Keep a message and dispatch its MESSAGE_CREATE (Discord echoes the bot's own too)."""
        message_id, channel_id = int(message["id"]), int(message["channel_id"])
        self.messages_by_id[message_id] = message
        self._by_channel.setdefault(channel_id, []).append(message_id)
        if by_bot:
            self._bot_sent.setdefault(channel_id, []).append(message_id)
        channel = self.world.channels.get(channel_id)
        if channel is not None:
            channel.last_message_id = message_id
            channel.message_count += 1
        await self.dispatch("MESSAGE_CREATE", message)

    async def apply_edit(self, message: Json, body: Json) -> None:
        for key in ("content", "components", "embeds", "flags"):
            if key in body:
                message[key] = body[key]
        if "content" in body:
            users = self.world.users
            ids = dict.fromkeys(int(m) for m in _MENTION.findall(body["content"] or ""))
            message["mentions"] = [users[i].user_payload() for i in ids if i in users]
        message["edited_timestamp"] = ds.iso_now()
        message["flags"] = int(message.get("flags") or 0) & ~LOADING
        if int(message["id"]) in self.messages_by_id:
            await self.dispatch("MESSAGE_UPDATE", message)
