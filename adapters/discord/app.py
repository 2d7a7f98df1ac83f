"""The Discord platform: a discord.py client wired to the runtime (``make_adapter``).

How it works: ``start`` logs in (a bad token stops start-up with the fix), connects the gateway
with the message content and members intents (if Discord refuses them, start-up says which switch
to turn on), waits until the guilds are loaded, registers the ``/longform`` commands in each
configured guild and the persistent buttons, and from then on hands each translated event to the
runtime's sink. ``execute`` and the other calls go through the runtime's ``GatewayAdapter``:
the one pipeline over the Discord gateway (``gateway``). Listeners never raise
into discord.py: a failure is logged and the next event goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import discord
import discord.gateway
import discord.http
import structlog
import yarl

from adapters.discord import translate
from adapters.discord.buttons import Buttons
from adapters.discord.commands import LongformCommands, LongformTree
from adapters.discord.community import PLATFORM, communities
from adapters.discord.errors import PLATFORM_ERRORS
from adapters.discord.gateway import REST_TIMEOUT, DiscordGateway
from adapters.discord.runtime_view import ServiceView
from adapters.discord.views import LongformButton
from bot.config import Config
from bot.core.decisions import Decision
from bot.core.events import Event
from bot.runtime.app import StartupError
from bot.runtime.control import Control
from bot.runtime.gateway_adapter import ControlSteps, GatewayAdapter
from bot.runtime.platform import ActionResult, EventSink

log = structlog.get_logger()
READY_TIMEOUT = 60.0  # seconds start-up waits for the gateway and the guilds
INTENTS_HELP = (
    "Discord refused the privileged intents Longform asks for (close code 4014). Turn on "
    "'Message Content Intent' (needed to read messages) and 'Server Members Intent' (needed for "
    "joins) at https://discord.com/developers/applications > your application > Bot > "
    "Privileged Gateway Intents, then start again."
)
TOKEN_HELP = (
    "Discord rejected the bot token: check discord.token_env names the variable that holds the "
    "token from the developer portal (Bot > Reset Token)."
)


class DiscordStartupError(StartupError):
    """The Discord adapter cannot start; the message names the fix."""


def point_at_api(api_url: str) -> tuple[str, yarl.URL]:
    """Send discord.py's REST calls to ``api_url`` (``discord.api_url``: a local test server);
    returns the endpoints it replaced. discord.py keeps them process-wide."""
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = api_url.rstrip("/")
    return saved


def restore_endpoints(saved: tuple[str, yarl.URL]) -> None:
    """Put back the endpoints ``point_at_api`` replaced."""
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def intents() -> discord.Intents:
    """Guilds, guild messages, members and message content (the last two are privileged)."""
    wanted = discord.Intents.default()
    wanted.members = True
    wanted.message_content = True
    wanted.typing = wanted.presences = False
    return wanted


class LongformClient(discord.Client):
    """A discord.py client whose listeners hand events to the adapter."""

    def __init__(self, adapter: DiscordAdapter, **options: object) -> None:
        super().__init__(intents=intents(), **options)  # type: ignore[arg-type]
        self.adapter = adapter
        self.tree = LongformTree(self)
        self.buttons: Buttons | None = None

    async def setup_hook(self) -> None:
        self.add_dynamic_items(LongformButton)

    async def on_ready(self) -> None:
        await self.adapter.on_ready()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.hand_over(translate.message_posted(message, self.adapter.known))

    async def on_raw_message_edit(self, update: discord.RawMessageUpdateEvent) -> None:
        now = self.adapter.now()
        await self.adapter.hand_over(translate.message_edited(update, self.adapter.known, now))

    async def on_raw_message_delete(self, deletion: discord.RawMessageDeleteEvent) -> None:
        now = self.adapter.now()
        await self.adapter.hand_over(translate.message_deleted(deletion, self.adapter.known, now))

    async def on_raw_bulk_message_delete(self, deletion: discord.RawBulkMessageDeleteEvent) -> None:
        for event in translate.messages_deleted(deletion, self.adapter.known, self.adapter.now()):
            await self.adapter.hand_over(event)

    async def on_member_join(self, member: discord.Member) -> None:
        now = self.adapter.now()
        await self.adapter.hand_over(translate.member_joined(member, self.adapter.known, now))


class ShardedLongformClient(LongformClient, discord.AutoShardedClient):
    """The same client over the gateway shards this process owns ([distributed] discord_shard_ids):
    discord.py's sharded client, each shard's guilds reaching the same listeners."""


class DiscordAdapter:
    """The ``PlatformAdapter`` for Discord (see ``bot.runtime.platform``)."""

    platform = PLATFORM

    def __init__(
        self,
        config: Config,
        token: str,
        *,
        guild_ready_timeout: float = 2.0,
        rest_timeout: float = REST_TIMEOUT,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self.known = communities(config)
        self._token, self._api_url = token, config.discord.api_url
        self._options: dict[str, object] = {
            "guild_ready_timeout": guild_ready_timeout,
            "max_ratelimit_timeout": 30.0,
        }
        shards = config.distributed
        self._client_class: type[LongformClient] = LongformClient
        if shards.discord_shard_ids:  # several ingest processes, each with some of the shards
            self._client_class = ShardedLongformClient
            self._options |= {"shard_ids": list(shards.discord_shard_ids),
                              "shard_count": shards.discord_shard_count}  # fmt: skip
        self._rest_timeout, self._ready_timeout = rest_timeout, ready_timeout
        self.client: LongformClient | None = None
        self.gateway: DiscordGateway | None = None
        self.adapter: GatewayAdapter | None = None  # the pipeline over the gateway, once started
        self._sink: EventSink | None = None
        self._service: ServiceView | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._synced = False
        self.started = False  # connected, guilds loaded: events flow
        self._saved_endpoints: tuple[str, yarl.URL] | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    async def start(self, sink: EventSink, control: Control) -> None:
        """Log in, connect and wait for the guilds; DiscordStartupError says what to fix."""
        self._sink, self._service, self._ready = sink, ServiceView(control), asyncio.Event()
        client = self.client = self._client_class(self, **self._options)
        gateway = self.gateway = DiscordGateway(client, self.known, self._service,
                                                self._rest_timeout, ControlSteps(control))  # fmt: skip
        self.adapter = GatewayAdapter(gateway, _Connected())
        await self.adapter.start(sink, control)  # the pipeline; connecting follows here
        client.buttons = Buttons(gateway, control)
        client.tree.add_command(LongformCommands(gateway, control))
        self._point_at_api()
        try:
            await client.login(self._token)
        except discord.LoginFailure as error:
            await client.close()
            raise DiscordStartupError(TOKEN_HELP) from error
        await self._point_gateway(client)
        self._task = asyncio.create_task(client.connect(), name="longform-discord")
        await self._wait_until_ready(self._task, self._ready)
        self.started = True

    async def _wait_until_ready(self, task: asyncio.Task[None], ready: asyncio.Event) -> None:
        waiter = asyncio.ensure_future(ready.wait())
        try:
            await asyncio.wait({task, waiter}, timeout=self._ready_timeout,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            waiter.cancel()
        if ready.is_set():
            return
        problem = task.exception() if task.done() else None
        await self.stop()
        if isinstance(problem, discord.PrivilegedIntentsRequired):
            raise DiscordStartupError(INTENTS_HELP) from problem
        if problem is not None:
            raise DiscordStartupError(f"Discord connection failed: {problem!r}") from problem
        raise DiscordStartupError(f"Discord was not ready within {self._ready_timeout:g} s")

    def _point_at_api(self) -> None:
        if self._api_url:
            self._saved_endpoints = point_at_api(self._api_url)

    async def _point_gateway(self, client: discord.Client) -> None:
        """With ``api_url`` set, connect to the gateway that API names (GET /gateway/bot)."""
        if not self._api_url:
            return
        _, url, _ = await asyncio.wait_for(client.http.get_bot_gateway(), self._rest_timeout)
        gateway = yarl.URL(url)
        if not gateway.path.endswith("/"):
            gateway = gateway.with_path(gateway.path + "/")
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway

    async def stop(self) -> None:
        """Close the client and wait for its connection task; pending work stays in the outbox."""
        self.started = False
        if self.client is not None:
            await self.client.close()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._saved_endpoints is not None:
            restore_endpoints(self._saved_endpoints)
            self._saved_endpoints = None

    async def on_ready(self) -> None:
        """Mark the adapter ready; the first time, register the commands and check the config."""
        if self._ready is not None:
            self._ready.set()
        if self._synced or self.client is None:
            return
        self._synced = True
        for guild_id in self.known:
            await self._sync_commands(self.client, guild_id)
        self._check_setup(self.client)

    async def _sync_commands(self, client: LongformClient, guild_id: int) -> None:
        guild = discord.Object(guild_id)
        client.tree.copy_global_to(guild=guild)
        try:
            await asyncio.wait_for(client.tree.sync(guild=guild), self._rest_timeout)
        except PLATFORM_ERRORS as error:
            log.warning("discord_commands_not_registered", guild=guild_id, problem=str(error),
                        hint="invite the bot with the applications.commands scope")  # fmt: skip

    def _check_setup(self, client: discord.Client) -> None:
        """Log what in the config does not match Discord (missing guild, forum, channel)."""
        shards = client.shard_ids if isinstance(client, discord.AutoShardedClient) else None
        for guild_id, community in self.known.items():
            guild = client.get_guild(guild_id)
            if guild is None and shards is not None and client.shard_count:
                shard = (guild_id >> 22) % client.shard_count  # Discord's routing of guilds
                if shard not in shards:  # another ingest process owns it
                    log.info("discord_guild_elsewhere", guild=guild_id, shard=shard)
                    continue
            if guild is None:
                log.warning("discord_guild_missing", guild=guild_id,
                            hint="invite the bot to this server or fix communities.id")  # fmt: skip
                continue
            forum = community.longform_space
            if forum is not None and not isinstance(guild.get_channel(forum), discord.ForumChannel):
                log.warning("discord_forum_missing", guild=guild_id, channel=forum)
            if community.moderators is None or guild.get_channel(community.moderators) is None:
                log.warning("discord_moderators_channel_missing", guild=guild_id)

    # -- events in ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The service's clock, for events that carry no time (edits without one, deletions)."""
        if self._service is None:
            return discord.utils.utcnow()
        return self._service.now()

    async def hand_over(self, event: Event | None) -> None:
        """Give ``event`` to the runtime; a failure is logged, never raised into discord.py."""
        if event is None or self._sink is None:
            return
        try:
            await self._sink(event)
        except Exception:  # the next event must still be handled
            log.exception("discord_event_not_handled", kind=type(event).__name__)

    # -- decisions out ------------------------------------------------------------------------------

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Carry out one decision (see ``bot.runtime.pipeline``); never raises."""
        if self.adapter is None:
            return ActionResult.failed("Discord is not connected yet", retry_after=5.0)
        return await self.adapter.execute(decision, key)

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        """Post ``text`` (the digest) in the community's moderators' channel, in parts if long."""
        if self.adapter is None:
            return ActionResult.failed("Discord is not connected yet", retry_after=5.0)
        return await self.adapter.post_to_moderators(community, text)

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        """Post ``text`` in the long-form post ``reference`` (reopening it if it was archived)."""
        if self.adapter is None:
            return ActionResult.failed("Discord is not connected yet", retry_after=5.0)
        return await self.adapter.remind_longform(community, reference, text)


class _Connected:
    """The ``Listener`` half for ``GatewayAdapter``: ``DiscordAdapter.start`` connects itself
    (login, gateway, intents), so there is nothing more to start or stop here."""

    async def start(self, sink: EventSink, control: Control) -> None:
        """Connected by the adapter."""

    async def stop(self) -> None:
        """Closed by the adapter."""


def make_adapter(config: Config, token: str) -> DiscordAdapter:
    """The Discord adapter for ``config`` (``bot.runtime.app`` calls this)."""
    return DiscordAdapter(config, token)
