"""The fake Discord REST API under `/api/v10`: what a moderation bot calls, validated like Discord.

How it works: one catch-all handler records every request (method, path, query, JSON body), checks
the bot token, consumes a forced response queued for that route if there is one (an error, a 429
with the headers discord.py needs to retry, or a delay), and otherwise runs the route's handler.
Handlers change the server's state and dispatch the gateway events Discord would (MESSAGE_CREATE for
the bot's own messages, CHANNEL_UPDATE, THREAD_CREATE).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes import discord_state as ds
from tests.fakes.discord_http import (
    EPHEMERAL,
    DiscordError,
    ForcedResponse,
    RecordedRequest,
    bucket_headers,
    check_message_body,
    error_body,
    invalid,
    json_response,
    read_body,
    rest_view,
    slowmode,
    with_ids,
)
from tests.fakes.discord_state import Json

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscordServer

_log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@!?(\d+)>")
Handler = Callable[[web.Request, dict[str, str], Any], Awaitable[Any]]


class Rest:
    """Routes `/api/v10/...`; handlers return a JSON-able body (None means 204)."""

    def __init__(self, server: FakeDiscordServer) -> None:
        self._s = server
        self.requests: list[RecordedRequest] = []
        self.unhandled: list[RecordedRequest] = []
        self.forced: list[ForcedResponse] = []
        self._nonces: dict[tuple[int, str], int] = {}  # (channel, nonce) -> message id
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for method, pattern, handler in self._table():
            regex = re.sub(r"\{(token|emoji)\}", r"(?P<\1>[^/]+)", pattern)
            regex = regex.replace("{wmid}", r"(?P<wmid>\d+|@original)")
            regex = re.sub(r"\{(\w+)\}", r"(?P<\1>\\d+)", regex)
            self._routes.append((method, re.compile(f"^{regex}$"), handler))

    def _table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/applications/@me", self._application),
            ("GET", "/gateway", self._gateway),
            ("GET", "/gateway/bot", self._gateway),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/channels/{cid}", self._get_channel),
            ("PATCH", "/channels/{cid}", self._edit_channel),
            ("POST", "/channels/{cid}/messages", self._create_message),
            ("GET", "/channels/{cid}/messages", self._history),
            ("GET", "/channels/{cid}/messages/{mid}", self._get_message),
            ("PATCH", "/channels/{cid}/messages/{mid}", self._edit_message),
            ("DELETE", "/channels/{cid}/messages/{mid}", self._delete_message),
            ("PUT", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._no_content),
            ("POST", "/channels/{cid}/threads", self._create_thread),
            ("POST", "/channels/{cid}/messages/{mid}/threads", self._create_thread),
            ("GET", "/guilds/{gid}/members/{uid}", self._get_member),
            ("GET", "/guilds/{gid}/threads/active", self._active_threads),
            ("GET", "/channels/{cid}/threads/archived/public", self._archived_threads),
            ("GET", "/applications/{app}/commands", self._list_commands),
            ("GET", "/applications/{app}/guilds/{gid}/commands", self._list_commands),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("PUT", "/applications/{app}/guilds/{gid}/commands", self._put_commands),
            ("POST", "/interactions/{iid}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("GET", "/webhooks/{app}/{token}/messages/{wmid}", self._get_response),
            ("PATCH", "/webhooks/{app}/{token}/messages/{wmid}", self._edit_response),
            ("DELETE", "/webhooks/{app}/{token}/messages/{wmid}", self._no_content),
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body = await read_body(request)
        record = RecordedRequest(request.method, path, dict(request.query), body)
        self.requests.append(record)
        response = await self._answer(request, path, body)
        record.status = response.status
        self._s.notify()
        return response

    async def _answer(self, request: web.Request, path: str, body: Any) -> web.Response:
        webhook = path.startswith(("/interactions/", "/webhooks/"))
        if not webhook and request.headers.get("Authorization") != f"Bot {self._s.token}":
            return json_response(401, error_body(401))
        forced = self._take_forced(request.method, path)
        if forced is not None:
            if forced.delay:
                await self._s.sleep(forced.delay)
            if forced.status is not None:
                return json_response(forced.status, forced.body, forced.headers)
        for method, regex, handler in self._routes:
            match = regex.match(path)
            if match and method == request.method:
                try:
                    result = await handler(request, match.groupdict(), body)
                except DiscordError as exc:
                    err = {"message": exc.message, "code": exc.code}
                    return json_response(
                        exc.status, err | ({"errors": exc.errors} if exc.errors else {})
                    )
                except (
                    Exception
                ) as exc:  # a bug in the fake: fail fast (a 500 is retried for seconds)
                    _log.exception("fake Discord failed on %s %s", method, path)
                    return json_response(400, {"message": f"fake Discord bug: {exc!r}", "code": 0})
                return json_response(204 if result is None else 200, result, bucket_headers(path))
        self.unhandled.append(self.requests[-1])
        return json_response(404, error_body(404))

    def _take_forced(self, method: str, path: str) -> ForcedResponse | None:
        for forced in self.forced:
            if forced.matches(method, path):
                forced.times -= 1
                if forced.times <= 0:
                    self.forced.remove(forced)
                return forced
        return None

    # -- identity -------------------------------------------------------------------------------

    async def _me(self, _r: web.Request, _p: dict[str, str], _b: Any) -> Json:
        return self._s.world.bot.user_payload() | {"verified": True, "mfa_enabled": False}

    async def _application(self, _r: web.Request, _p: dict[str, str], _b: Any) -> Json:
        return self._s.world.application_payload()

    async def _gateway(self, _r: web.Request, _p: dict[str, str], _b: Any) -> Json:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return {"url": self._s.gateway_url.rstrip("/"), "shards": 1, "session_start_limit": limit}

    # -- channels -------------------------------------------------------------------------------

    async def _get_channel(self, _r: web.Request, p: dict[str, str], _b: Any) -> Json:
        return self._s.channel_payload(int(p["cid"]))

    async def _edit_channel(self, _r: web.Request, p: dict[str, str], body: Any) -> Json:
        channel = self._s.guild_channel(int(p["cid"]))
        if "rate_limit_per_user" in body:
            channel.rate_limit_per_user = slowmode(body["rate_limit_per_user"])
        for key in ("name", "topic", "archived", "locked"):
            if key in body:
                setattr(channel, key, body[key])
        if "applied_tags" in body:
            channel.applied_tags = self._tags(channel.parent_id, body["applied_tags"])
        payload = channel.payload(self._s.world.guild_id)
        await self._s.dispatch("THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE", payload)
        return payload

    async def _open_dm(self, _r: web.Request, _p: dict[str, str], body: Any) -> Json:
        user = self._s.user(int(body["recipient_id"]))
        return self._s.dm_payload(user.id)

    async def _get_member(self, _r: web.Request, p: dict[str, str], _b: Any) -> Json:
        user = self._s.world.users.get(int(p["uid"]))
        if user is None or not user.in_guild:
            raise DiscordError(404, 10007, "Unknown Member")
        return user.member_payload()

    # -- messages -------------------------------------------------------------------------------

    async def _create_message(self, _r: web.Request, p: dict[str, str], body: Any) -> Json:
        channel_id = int(p["cid"])
        guild_id = self._check_can_send(channel_id)
        check_message_body(body)
        repeated = self._same_nonce(channel_id, body)
        if repeated is not None:
            return rest_view(repeated)
        reply_to = self._reply_target(body.get("message_reference"))
        message = ds.message_payload(
            channel_id=channel_id,
            guild_id=guild_id,
            author=self._s.world.bot,
            content=body.get("content") or "",
            reply_to=reply_to,
            mentions=self._mentions(body, reply_to),
            components=with_ids(body.get("components")),
            embeds=body.get("embeds"),
            flags=int(body.get("flags") or 0),
        )
        if "nonce" in body:
            message["nonce"] = body["nonce"]
            self._nonces[(channel_id, str(body["nonce"]))] = int(message["id"])
        await self._s.store_message(message, by_bot=True)
        return rest_view(message)

    def _same_nonce(self, channel_id: int, body: Json) -> Json | None:
        """With `enforce_nonce`, Discord answers a repeated nonce with the message it made."""
        if not body.get("enforce_nonce") or "nonce" not in body:
            return None
        earlier = self._nonces.get((channel_id, str(body["nonce"])))
        return None if earlier is None else self._s.messages_by_id.get(earlier)

    def _check_can_send(self, channel_id: int) -> int | None:
        """Return the guild id (None in a DM) or raise the error Discord would."""
        recipient = self._s.dm_recipient(channel_id)
        if recipient is not None:
            if not recipient.dms_open or recipient.bot:
                raise DiscordError(403, 50007, "Cannot send messages to this user")
            return None
        channel = self._s.guild_channel(channel_id)
        if channel.type == ds.FORUM:
            raise DiscordError(400, 50008, "Cannot send messages in a non-text channel")
        if not channel.bot_can_send:
            raise DiscordError(403, 50013, "Missing Permissions")
        if channel.locked or channel.archived:
            raise DiscordError(400, 50083, "Thread is archived")
        return self._s.world.guild_id

    def _reply_target(self, reference: Json | None) -> Json | None:
        if not reference or reference.get("type", 0) != 0:
            return None
        target = self._s.messages_by_id.get(int(reference["message_id"]))
        if target is None and reference.get("fail_if_not_exists", True):
            raise invalid("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
        return target

    def _mentions(self, body: Json, reply_to: Json | None) -> list[ds.FakeUser]:
        """Who the message pings: content mentions filtered by `allowed_mentions`, and the
        replied-to author unless `replied_user` is false."""
        allowed = body.get("allowed_mentions")
        ids = [int(m) for m in _MENTION.findall(body.get("content") or "")]
        if allowed is not None and "users" not in allowed.get("parse", []):
            ids = [i for i in ids if str(i) in {str(u) for u in allowed.get("users", [])}]
        if reply_to is not None and (allowed is None or allowed.get("replied_user", False)):
            ids.append(int(reply_to["author"]["id"]))
        users = self._s.world.users
        return [users[i] for i in dict.fromkeys(ids) if i in users]

    async def _history(self, request: web.Request, p: dict[str, str], _b: Any) -> list[Json]:
        self._s.channel_payload(int(p["cid"]))
        limit = min(int(request.query.get("limit", 50)), 100)
        before = int(request.query.get("before", 1 << 63))
        after = int(request.query.get("after", 0))
        found = [m for m in self._s.messages(int(p["cid"])) if after < int(m["id"]) < before]
        # Discord answers newest first; with only `after`, the `limit` messages right after it.
        kept = (
            found[:limit]
            if "after" in request.query and "before" not in request.query
            else found[-limit:]
        )
        return [rest_view(m) for m in reversed(kept)]

    async def _get_message(self, _r: web.Request, p: dict[str, str], _b: Any) -> Json:
        return rest_view(self._own_or_any(p, own=False))

    async def _edit_message(self, _r: web.Request, p: dict[str, str], body: Any) -> Json:
        message = self._own_or_any(p, own=True)
        await self._s.apply_edit(message, body)
        return rest_view(message)

    async def _delete_message(self, _r: web.Request, p: dict[str, str], _b: Any) -> None:
        await self._s.delete_message(int(self._own_or_any(p, own=False)["id"]))

    def _own_or_any(self, p: dict[str, str], *, own: bool) -> Json:
        message = self._s.messages_by_id.get(int(p["mid"]))
        if message is None or message["channel_id"] != p["cid"]:
            raise DiscordError(404, 10008, "Unknown Message")
        if own and message["author"]["id"] != str(self._s.world.bot.id):
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        return message

    async def _no_content(self, _r: web.Request, _p: dict[str, str], _b: Any) -> None:
        return None

    # -- threads and forum posts ----------------------------------------------------------------

    async def _create_thread(self, _r: web.Request, p: dict[str, str], body: Any) -> Json:
        parent = self._s.guild_channel(int(p["cid"]))
        name = str(body.get("name", ""))
        if not 1 <= len(name) <= 100:
            raise invalid("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        starter = body.get("message")
        if parent.type == ds.FORUM and not starter:
            raise invalid("message", "BASE_TYPE_REQUIRED", "This field is required")
        if starter:
            check_message_body(starter)
        from_message = p.get("mid")
        thread = ds.FakeChannel(
            id=int(from_message) if from_message else ds.snowflake(),
            type=int(body.get("type") or ds.PUBLIC_THREAD),
            name=name,
            parent_id=parent.id,
            rate_limit_per_user=slowmode(body.get("rate_limit_per_user", 0)),
            applied_tags=self._tags(parent.id, body.get("applied_tags", [])),
            owner_id=self._s.world.bot.id,
        )
        self._s.world.channels[thread.id] = thread
        payload = thread.payload(self._s.world.guild_id)
        member = {"id": str(thread.id), "user_id": str(thread.owner_id), "flags": 1}
        payload["member"] = member | {"join_timestamp": ds.iso_now()}
        await self._s.dispatch("THREAD_CREATE", payload | {"newly_created": True})
        if starter:
            message = ds.message_payload(
                channel_id=thread.id,
                guild_id=self._s.world.guild_id,
                author=self._s.world.bot,
                content=starter.get("content") or "",
                mentions=self._mentions(starter, None),
                message_id=thread.id,  # a forum post's starter message shares the thread's id
                components=with_ids(starter.get("components")),
                embeds=starter.get("embeds"),
            )
            await self._s.store_message(message, by_bot=True)
            payload["message"] = rest_view(message)
        if parent.type == ds.FORUM:
            self._s.forum_post_log.setdefault(parent.id, []).append(payload)
        return payload

    async def _active_threads(self, _r: web.Request, _p: dict[str, str], _b: Any) -> Json:
        return self._threads(lambda t: not t.archived) | {"members": []}

    async def _archived_threads(self, _r: web.Request, p: dict[str, str], _b: Any) -> Json:
        parent = int(p["cid"])
        found = self._threads(lambda t: t.archived and t.parent_id == parent)
        return found | {"members": [], "has_more": False}

    def _threads(self, keep: Callable[[ds.FakeChannel], bool]) -> Json:
        world = self._s.world
        threads = [c for c in world.channels.values() if c.is_thread and keep(c)]
        return {"threads": [t.payload(world.guild_id) for t in threads]}

    def _tags(self, forum_id: int | None, tags: list[Any]) -> list[int]:
        if not tags:
            return []
        known = self._s.world.tag_ids(forum_id) if forum_id in self._s.world.channels else set()
        ids = [int(t) for t in tags]
        if len(ids) > 5:
            raise invalid("applied_tags", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        if not set(ids) <= known:
            raise invalid("applied_tags", "TAG_INVALID", "Unknown tag")
        return ids

    # -- application commands and interactions ----------------------------------------------------

    async def _list_commands(self, _r: web.Request, _p: dict[str, str], _b: Any) -> list[Json]:
        return []

    async def _put_commands(self, _r: web.Request, p: dict[str, str], body: Any) -> list[Json]:
        extra = {"application_id": str(self._s.world.bot.id), "version": "1"}
        if "gid" in p:
            extra["guild_id"] = p["gid"]
        return [{**c, "id": str(ds.snowflake()), **extra} for c in body]

    async def _callback(self, request: web.Request, p: dict[str, str], body: Any) -> Json | None:
        pending = self._s.interactions.pending(int(p["iid"]), p["token"])
        if pending.acknowledged:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        pending.acknowledged = True
        kind, data = int(body["type"]), body.get("data") or {}
        message = await self._s.interactions.answer(pending, kind, data)
        if not request.query.get("with_response"):
            return None
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        callback: Json = {
            "interaction": {
                "id": str(pending.id),
                "type": pending.payload["type"],
                "response_message_id": None if message is None else message["id"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            }
        }
        if message is not None:
            callback["resource"] = {"type": kind, "message": rest_view(message)}
        return callback

    async def _followup(self, _r: web.Request, p: dict[str, str], body: Any) -> Json:
        pending = self._s.interactions.by_token(p["token"])
        check_message_body(body)
        message = await self._s.interactions.answer(pending, None, body)
        assert message is not None  # a followup always creates a message
        return rest_view(message)

    async def _get_response(self, _r: web.Request, p: dict[str, str], _b: Any) -> Json:
        pending = self._s.interactions.by_token(p["token"])
        return rest_view(self._s.interactions.message(pending, p["wmid"]))

    async def _edit_response(self, _r: web.Request, p: dict[str, str], body: Any) -> Json:
        pending = self._s.interactions.by_token(p["token"])
        message = self._s.interactions.message(pending, p["wmid"])
        await self._s.apply_edit(message, body)
        self._s.interactions.record(pending, "edit", None, body, message)
        return rest_view(message)
