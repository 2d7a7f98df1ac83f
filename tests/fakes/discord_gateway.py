"""The fake Discord gateway: a websocket speaking gateway v10 in plain JSON text frames.

How it works: a client connects, gets HELLO, and sends IDENTIFY (a new session: READY, then
GUILD_CREATE) or RESUME (the session's missed dispatches are replayed, then RESUMED). Each session
keeps its sequence number and a buffer of dispatches, so events sent while the socket is down reach
the client after it resumes. Dispatches are filtered by the session's intents as Discord does, and
message content is blanked for a session without MESSAGE_CONTENT unless the bot is mentioned.
A sharded IDENTIFY (``shard: [id, count]``) gets only the guilds of its shard, as Discord routes
them (``(guild_id >> 22) % count``; direct messages go to shard 0). discord.py asks for zlib-stream compression but accepts uncompressed text frames.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_state import Json, World

HEARTBEAT_INTERVAL_MS = 41_250

# Intent bits (Discord API).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

_GUILD_EVENT_INTENTS = {
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "CHANNEL_UPDATE": GUILDS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
}
_DM_EVENT_INTENTS = {"MESSAGE_CREATE": DIRECT_MESSAGES, "MESSAGE_UPDATE": DIRECT_MESSAGES}


@dataclass
class Session:
    """A gateway session; it outlives its socket so that it can be resumed."""

    id: str
    intents: int
    seq: int = 0
    ws: web.WebSocketResponse | None = None
    sent: deque[Json] = field(default_factory=lambda: deque(maxlen=1000))
    shard: tuple[int, int] | None = None  # (shard id, shard count) from IDENTIFY, if sharded

    def owns(self, guild_id: int | None) -> bool:
        """Whether this session's shard gets the guild's events (DMs go to shard 0), as Discord
        routes them: shard = (guild_id >> 22) % shard count."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % count) == shard_id

    def wants(self, event: str, data: Json) -> bool:
        table = _GUILD_EVENT_INTENTS if "guild_id" in data else _DM_EVENT_INTENTS
        needed = table.get(event)
        guild = data.get("guild_id")
        if not self.owns(int(guild) if guild else None):
            return False
        return needed is None or bool(self.intents & needed)


@dataclass
class GatewaySettings:
    token: str
    require_message_content: bool = False  # close 4014 when IDENTIFY lacks MESSAGE_CONTENT
    portal_intents: int = PRIVILEGED  # privileged intents "enabled in the developer portal"


class Gateway:
    """Serves `/gateway/` and dispatches events to every live session."""

    def __init__(
        self,
        world: World,
        settings: GatewaySettings,
        url: Callable[[], str],
        notify: Callable[[], None],
    ) -> None:
        self._world = world
        self._settings = settings
        self._url = url
        self._notify = notify
        self.sessions: dict[str, Session] = {}
        self.received: list[Json] = []  # every op the clients sent (heartbeats included)
        self.close_codes: list[int] = []  # codes the fake closed sockets with
        self.identifies = 0
        self.shards_identified: list[tuple[int, int] | None] = []  # each IDENTIFY's shard
        self.resumes = 0
        self._sockets: set[web.WebSocketResponse] = set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await _send(ws, {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_op(ws, json.loads(msg.data))
        finally:
            self._sockets.discard(ws)
            for session in self.sessions.values():
                if session.ws is ws:
                    session.ws = None
        return ws

    async def _on_op(self, ws: web.WebSocketResponse, payload: Json) -> None:
        self.received.append(payload)
        op, data = payload.get("op"), payload.get("d") or {}
        if op == 1:
            await _send(ws, {"op": 11})
        elif op == 2:
            await self._identify(ws, data)
        elif op == 6:
            await self._resume(ws, data)
        elif op == 8:
            await self._request_members(ws, data)
        self._notify()

    async def _identify(self, ws: web.WebSocketResponse, data: Json) -> None:
        intents = int(data.get("intents", 0))
        if data.get("token") != self._settings.token:
            await self._close(ws, 4004, "Authentication failed.")
            return
        missing_content = self._settings.require_message_content and not intents & MESSAGE_CONTENT
        if missing_content or intents & PRIVILEGED & ~self._settings.portal_intents:
            await self._close(ws, 4014, "Disallowed intent(s).")
            return
        self.identifies += 1
        shard = data.get("shard")
        session = Session(id=uuid.uuid4().hex, intents=intents, ws=ws,
                          shard=(int(shard[0]), int(shard[1])) if shard else None)  # fmt: skip
        self.sessions[session.id] = session
        self.shards_identified.append(session.shard)
        world = self._world
        owned = session.owns(world.guild_id)
        ready = {
            "v": 10,
            "user": world.bot.user_payload() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(world.guild_id), "unavailable": True}] if owned else [],
            "shard": list(session.shard) if session.shard else None,
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._url(),
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "application": {"id": str(world.bot.id), "flags": 1 << 19},
            "user_settings": {},
            "_trace": ['["fake-discord",{"micros":0}]'],
        }
        await self._dispatch_to(session, "READY", ready)
        if owned:  # a shard gets only its own guilds
            await self._dispatch_to(session, "GUILD_CREATE", world.guild_payload())

    async def _resume(self, ws: web.WebSocketResponse, data: Json) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self._settings.token:
            await _send(ws, {"op": 9, "d": False})
            return
        self.resumes += 1
        if session.ws is not None and session.ws is not ws:
            await session.ws.close(code=4000)
        session.ws = ws
        last = int(data.get("seq") or 0)
        for frame in [f for f in session.sent if f["s"] > last]:
            await _send(ws, frame)
        await self._dispatch_to(session, "RESUMED", {"_trace": ['["fake-discord",{}]']})

    async def _request_members(self, ws: web.WebSocketResponse, data: Json) -> None:
        members = [u.member_payload() for u in self._world.members()]
        chunk = {
            "guild_id": str(self._world.guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": data.get("nonce"),
        }
        for session in self.sessions.values():
            if session.ws is ws:
                await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: Json) -> None:
        """Send a DISPATCH to every session that wants it; a session without a socket buffers it."""
        for session in list(self.sessions.values()):
            if session.wants(event, data):
                await self._dispatch_to(session, event, self._visible(session, event, data))
        self._notify()

    def _visible(self, session: Session, event: str, data: Json) -> Json:
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & MESSAGE_CONTENT:
            return data
        bot_id = str(self._world.bot.id)
        mentioned = any(m.get("id") == bot_id for m in data.get("mentions", []))
        if "guild_id" not in data or mentioned or data.get("author", {}).get("id") == bot_id:
            return data
        return data | {"content": "", "embeds": [], "attachments": [], "components": []}

    async def _dispatch_to(self, session: Session, event: str, data: Json) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent.append(frame)
        if session.ws is not None and not session.ws.closed:
            await _send(session.ws, frame)

    async def drop(self, code: int = 4000) -> None:
        """Close every socket with a resumable code; sessions stay, so clients RESUME."""
        for ws in list(self._sockets):
            await self._close(ws, code, "Connection dropped by the fake.")

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes the socket itself and resumes."""
        for ws in list(self._sockets):
            await _send(ws, {"op": 7, "d": None})

    async def _close(self, ws: web.WebSocketResponse, code: int, reason: str) -> None:
        self.close_codes.append(code)
        for session in self.sessions.values():
            if session.ws is ws:
                session.ws = None
        self._notify()
        await ws.close(code=code, message=reason.encode())

    async def close_all(self) -> None:
        await asyncio.gather(*(ws.close(code=1001) for ws in list(self._sockets)))


async def _send(ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
    frame = {
        "op": payload["op"],
        "d": payload.get("d"),
        "s": payload.get("s"),
        "t": payload.get("t"),
    }
    await ws.send_str(json.dumps(frame))
