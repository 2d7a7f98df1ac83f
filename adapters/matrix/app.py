"""The Matrix platform: one matrix-nio client wired to the runtime (``make_adapter``).

How it works: the adapter is the listener and the wiring; decisions, the digest and reminders go
through the runtime's ``GatewayAdapter``: the one pipeline over the Matrix gateway (``gateway``).
``start`` checks the access token (``whoami``; a bad one stops start-up with the
fix), joins each configured room (a room the bot cannot join stops start-up, naming the room and
the invitation to send), reports end-to-end encrypted rooms clearly (Longform cannot read them; they
are left out and the moderators are told), reads the rooms' power levels, and starts the /sync
loop. The sync token is kept through ``Control.remember`` after each batch is handed over, so a
restart resumes where it stopped; the very first start skips the rooms' history. Each timeline
event is translated and handed to the runtime's sink in order; commands and reactions go to
``Commands``. A failing sync is logged and retried; it never stops the service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from typing import Any

import structlog
from nio import AsyncClient, AsyncClientConfig, ErrorResponse, SyncResponse

from adapters.matrix import translate
from adapters.matrix.commands import Commands
from adapters.matrix.gateway import Community, MatrixGateway
from bot.config import Config
from bot.core.decisions import Decision
from bot.runtime.app import StartupError
from bot.runtime.control import Control
from bot.runtime.gateway import Alert, CommunityRef, Gateway, GatewayError
from bot.runtime.gateway_adapter import GatewayAdapter
from bot.runtime.platform import ActionResult, EventSink

log = structlog.get_logger()
SINCE = "matrix:since"
_FIRST_SYNC = {"room": {"timeline": {"limit": 1}}}  # the first start skips the rooms' history
_RETRY_S = 2.0  # after a failed /sync
_JOIN_TRIES = 5
_FIRST_TRIES = 20
_SEEN = 10_000


class MatrixStartupError(StartupError):
    """The Matrix adapter cannot start; the message names the fix."""


def communities(config: Config) -> dict[str, Community]:
    """The configured Matrix communities by core community id."""
    found = {}
    for c in config.communities:
        if c.platform == translate.PLATFORM:
            ref = CommunityRef(translate.PLATFORM, c.id)
            found[ref.key] = Community(ref, tuple(c.channels), c.moderators, c.longform_space)
    return found


class MatrixAdapter:
    """The ``PlatformAdapter`` for Matrix (see ``bot.runtime.platform``)."""

    platform = translate.PLATFORM

    def __init__(self, config: Config, token: str) -> None:
        section = config.matrix
        self.homeserver, self.user_id, self._token = section.homeserver, section.user_id, token
        self.sync_timeout_ms = section.sync_timeout_ms
        self.known = communities(config)
        rooms = {room: c.ref.key for c in self.known.values() for room in c.rooms}
        self.roster = translate.Roster(self.user_id, rooms)
        self.encrypted: list[str] = []  # configured rooms left out: end-to-end encrypted
        self.seen: OrderedDict[str, None] = OrderedDict()  # the latest event ids handled (tests)
        self.started = False
        self.client: AsyncClient | None = None
        self.gateway: MatrixGateway | None = None
        self.adapter: GatewayAdapter | None = None  # the pipeline over the gateway, once started
        self._sink: EventSink | None = None
        self._commands: Commands | None = None
        self._control: Control | None = None
        self._loop: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, sink: EventSink, control: Control) -> None:
        """Check the token and rooms, then start syncing; MatrixStartupError if it cannot."""
        self._sink, self._control = sink, control
        # max_limit_exceeded=0: a 429 comes back to us (and the outbox's retry), not retried forever.
        settings = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2, request_timeout=30)
        client = self.client = AsyncClient(self.homeserver, self.user_id, config=settings)
        client.access_token = self._token
        try:
            await self._check_token(client)
            gateway = self.gateway = MatrixGateway(client, self.known, control, self.roster)
            _typed: Gateway = gateway  # mypy checks it offers every primitive of the Protocol
            self.adapter = adapter = GatewayAdapter(gateway, _Syncing(self, gateway))
            await adapter.start(sink, control)  # the pipeline, then _listen
        except BaseException:
            await self.stop()  # the runtime only stops adapters that started
            raise
        self.started = True
        log.info("matrix_started", user=self.user_id, rooms=len(self.roster.rooms))

    async def _listen(self, gateway: MatrixGateway, control: Control) -> None:
        """The commands, the rooms joined and checked, the first sync; then the sync loop."""
        self._commands = Commands(gateway, control, self.roster.rooms)
        await self._prepare_rooms(gateway)
        await self._first_sync(gateway.client, control)
        self._loop = asyncio.create_task(self._sync_forever(gateway.client, control))

    async def _check_token(self, client: AsyncClient) -> None:
        try:
            me = await client.whoami()
        except OSError as error:  # aiohttp's connection errors are OSErrors
            raise MatrixStartupError(f"matrix.homeserver: {self.homeserver} cannot be reached "
                                     f"({error}); check the URL") from error  # fmt: skip
        if isinstance(me, ErrorResponse):
            raise MatrixStartupError(
                f"matrix.token_env: the homeserver refused the access token ({me.status_code}); "
                "log in as the bot user and export a fresh access token (README, Setting up Matrix)"
            )
        if me.user_id != self.user_id:
            raise MatrixStartupError(f"matrix.user_id: the token belongs to {me.user_id}, not "
                                     f"{self.user_id}; set user_id = \"{me.user_id}\"")  # fmt: skip
        client.device_id = me.device_id or ""

    async def _prepare_rooms(self, gateway: MatrixGateway) -> None:
        """Join every configured room; leave out (and report) the encrypted ones."""
        client = gateway.client
        for community in self.known.values():
            for room in (community.moderators, community.space):
                if room:
                    await self._join(client, room, community.ref.key)
            for venue in await gateway.venues(community.ref):  # long-form rooms it opened
                self.roster.rooms.setdefault(venue, community.ref.key)
        for room, key in dict(self.roster.rooms).items():
            await self._join(client, room, key)
            if not isinstance(await client.room_get_state_event(room, "m.room.encryption"),
                              ErrorResponse):  # fmt: skip
                await self._leave_out_encrypted(gateway, room, key)
                continue
            with contextlib.suppress(GatewayError):
                self.roster.levels[room] = await gateway.levels(room)
                self.roster.creators[room] = await gateway.creators(room)

    async def _join(self, client: AsyncClient, room: str, community: str) -> None:
        joined = await client.join(room)
        for _ in range(_JOIN_TRIES):  # joins are rate limited too: wait as the server says
            if not (isinstance(joined, ErrorResponse) and joined.status_code == "M_LIMIT_EXCEEDED"):
                break
            await asyncio.sleep((joined.retry_after_ms or 1000) / 1000)
            joined = await client.join(room)
        if isinstance(joined, ErrorResponse):
            raise MatrixStartupError(f"communities ({community}): the bot cannot join {room} "
                                     f"({joined.status_code} {joined.message}); invite "
                                     f"{self.user_id} to it")  # fmt: skip

    async def _leave_out_encrypted(self, gateway: MatrixGateway, room: str, community: str) -> None:
        self.encrypted.append(room)
        del self.roster.rooms[room]
        problem = (f"The room {room} is end-to-end encrypted: Longform cannot read it and will "
                   "not watch it. Watch an unencrypted room instead, or remove it from the config.")  # fmt: skip
        log.error("matrix_room_encrypted", room=room, community=community, problem=problem)
        try:
            await gateway.alert_moderators(Alert(CommunityRef.parse(community), problem),
                                           f"encrypted.{room}")  # fmt: skip
        except GatewayError as error:
            log.warning("moderator_note_failed", community=community, problem=error.detail)

    async def _first_sync(self, client: AsyncClient, control: Control) -> None:
        since = await control.recall(SINCE)
        if isinstance(since, str):
            client.next_batch = since  # resume: the loop's first sync fetches what was missed
            return
        # Skip the history, until every room just joined has shown up once (a join reaches the
        # bot's /sync a moment later; that room would otherwise arrive with its recent past).
        first = await client.sync(timeout=0, sync_filter=_FIRST_SYNC)
        for _ in range(_FIRST_TRIES):
            if not isinstance(first, SyncResponse) or set(self.roster.rooms) <= set(client.rooms):
                break
            first = await client.sync(timeout=500, sync_filter=_FIRST_SYNC, since=first.next_batch)
        if isinstance(first, SyncResponse):
            await control.remember(SINCE, first.next_batch)

    async def _sync_forever(self, client: AsyncClient, control: Control) -> None:
        while True:
            try:
                response = await client.sync(timeout=self.sync_timeout_ms, since=client.next_batch)
            except Exception as error:  # network trouble, or a reply nio cannot parse: try again
                log.warning("matrix_sync_failed", problem=repr(error), retry_s=_RETRY_S)
                await asyncio.sleep(_RETRY_S)
                continue
            if isinstance(response, ErrorResponse):
                log.warning("matrix_sync_failed", problem=str(response.message), retry_s=_RETRY_S)
                await asyncio.sleep((response.retry_after_ms or _RETRY_S * 1000) / 1000)
                continue
            await self._hand_over(response)
            await control.remember(SINCE, response.next_batch)

    async def stop(self) -> None:
        """Stop syncing and close the client; pending work is left to the outbox."""
        loop, self._loop, self.started = self._loop, None, False
        self.gateway = self.adapter = None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        client, self.client = self.client, None
        if client is not None:
            await client.close()

    # -- events in ----------------------------------------------------------------------------

    async def _hand_over(self, response: SyncResponse) -> None:
        for room, info in response.rooms.join.items():
            for state in info.state:  # a snapshot (a newly joined room's): not news, but levels
                self._learn_levels(state.source, room)
            for event in info.timeline.events:
                try:
                    await self._on_event(event.source, room)
                except Exception:  # one bad event must not stop the sync loop
                    log.exception("matrix_event_failed", room=room)
        for room in response.rooms.invite:
            if room in self.roster.rooms and self.client is not None:
                await self.client.join(room)

    def _learn_levels(self, raw: dict[str, Any], room: str) -> None:
        if raw.get("type") == "m.room.power_levels" and raw.get("state_key") == "":
            self.roster.levels[room] = dict(raw.get("content", {}))

    async def _on_event(self, raw: dict[str, Any], room: str) -> None:
        kind = raw.get("type")
        self._learn_levels(raw, room)
        if raw.get("sender") == self.user_id or self._commands is None:
            return
        if kind == "m.reaction":
            await self._commands.on_reaction(raw, room)
        elif kind == "m.room.message" and translate.is_command(raw):
            await self._commands.on_command(raw, room)
        else:
            event = translate.event(raw, room, self.roster)
            if event is not None and self._sink is not None:
                await self._sink(event)
        self.seen[str(raw.get("event_id", ""))] = None
        while len(self.seen) > _SEEN:
            self.seen.popitem(last=False)

    # -- decisions out: the pipeline over the gateway ----------------------------------------

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Carry out one decision (see ``bot.runtime.pipeline``)."""
        if self.adapter is None:
            return ActionResult.failed("the Matrix adapter is not started", retry_after=5.0)
        return await self.adapter.execute(decision, key)

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        """Post ``text`` (the daily digest) in the community's moderators' room."""
        if self.adapter is None:
            return ActionResult.failed("the Matrix adapter is not started", retry_after=5.0)
        return await self.adapter.post_to_moderators(community, text)

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        """Post ``text`` in the long-form room ``reference``."""
        if self.adapter is None:
            return ActionResult.failed("the Matrix adapter is not started", retry_after=5.0)
        return await self.adapter.remind_longform(community, reference, text)


class _Syncing:
    """The ``Listener`` the runtime's ``GatewayAdapter`` starts: the rooms and the sync loop."""

    def __init__(self, matrix: MatrixAdapter, gateway: MatrixGateway) -> None:
        self.matrix, self.gateway = matrix, gateway

    async def start(self, sink: EventSink, control: Control) -> None:
        await self.matrix._listen(self.gateway, control)

    async def stop(self) -> None:
        await self.matrix.stop()


def make_adapter(config: Config, token: str) -> MatrixAdapter:
    """The adapter ``bot.runtime.app`` loads when ``[matrix] enabled = true``."""
    return MatrixAdapter(config, token)
