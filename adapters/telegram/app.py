"""The Telegram platform: a python-telegram-bot Application wired to the runtime (``make_adapter``).

How it works: the adapter is the listener and the wiring; decisions, the digest and reminders go
through the runtime's ``GatewayAdapter``: the one pipeline over the Telegram gateway
(``gateway``). ``start`` initializes the Application (getMe; a bad token stops start-up with the
fix), checks each configured group (can the bot read every message, may it restrict members and
open topics; what is missing is logged and told to that group's moderators, with the change to
make), learns the admins, registers the commands with ``setMyCommands``, and starts receiving
updates by long polling or through a webhook, as the options say. Each message, edit and join is
translated and handed to the runtime's sink, in order (PTB handles one update at a time). A
handler never lets a platform error escape: it is logged and the next update goes on.
"""

from __future__ import annotations

import socket
from typing import Any

import structlog
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from adapters.telegram import texts, translate
from adapters.telegram.buttons import Buttons
from adapters.telegram.commands import COMMANDS, Commands
from adapters.telegram.community import PLATFORM, communities
from adapters.telegram.errors import PLATFORM_ERRORS
from adapters.telegram.gateway import TelegramGateway
from adapters.telegram.keyboards import CALLBACK_PATTERN
from adapters.telegram.options import OptionsError, TelegramOptions, api_urls
from adapters.telegram.roster import Roster
from adapters.telegram.service import RuntimeService
from adapters.telegram.setup import check_setup
from bot.config import Config
from bot.core.decisions import Decision
from bot.core.events import Event
from bot.runtime.app import StartupError
from bot.runtime.control import Control
from bot.runtime.gateway_adapter import ControlSteps, GatewayAdapter
from bot.runtime.platform import ActionResult, EventSink

log = structlog.get_logger()
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "chat_member", "my_chat_member"]
_GROUPS = filters.ChatType.GROUPS


class TelegramStartupError(StartupError):
    """The Telegram adapter cannot start; the message names the fix."""


class TelegramAdapter:
    """The ``PlatformAdapter`` for Telegram (see ``bot.runtime.platform``)."""

    platform = PLATFORM

    def __init__(self, config: Config, token: str, options: TelegramOptions | None = None) -> None:
        self.known = communities(config)
        try:
            self.options = options or TelegramOptions.from_config(config)
        except OptionsError as error:
            raise TelegramStartupError(str(error)) from error
        self._token, self._urls = token, api_urls(config.telegram.api_url)
        self.roster = Roster()
        self.app: AnyApplication | None = None
        self.gateway: TelegramGateway | None = None
        self.adapter: GatewayAdapter | None = None  # the pipeline over the gateway, once started
        self.handler_errors: list[BaseException] = []  # what reached PTB's error handler
        self.updates_handled = 0  # updates every handler is done with
        self.started = False  # receiving updates
        self._sink: EventSink | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, sink: EventSink, control: Control) -> None:
        """Connect, check the groups, and start receiving updates; TelegramStartupError if not."""
        self._sink = sink
        app = self.app = self._build()
        await self._initialize(app)
        gateway = TelegramGateway(app.bot, self.known, self.roster, RuntimeService(control),
                                  self.options.slow_mode, ControlSteps(control))  # fmt: skip
        self.gateway = gateway
        await gateway.watch_venue_topics()
        self.adapter = adapter = GatewayAdapter(gateway, _Receiving(self, app, gateway))
        try:
            await adapter.start(sink, control)  # the pipeline, then _listen
        except BaseException:
            await self.stop()  # the runtime only stops adapters that started
            raise
        self.started = True
        log.info("telegram_started", bot=app.bot.username, updates=self.options.updates)

    async def _listen(
        self, app: AnyApplication, gateway: TelegramGateway, control: Control
    ) -> None:
        """The handlers, the groups' check and the command list; then receive updates."""
        await gateway.slow.restore()
        self._add_handlers(app, Buttons(gateway, control))
        await check_setup(app.bot, self.known, self.roster, self.post_to_moderators)
        try:
            await app.bot.set_my_commands(COMMANDS)
        except PLATFORM_ERRORS as error:  # the commands still work; only the menu is missing
            log.warning("telegram_commands_not_registered", problem=str(error))
        await app.start()
        await self._receive(app)

    def _build(self) -> AnyApplication:
        timeout = self.options.request_timeout
        builder = ApplicationBuilder().token(self._token).job_queue(None)
        builder = builder.connect_timeout(timeout).read_timeout(timeout).write_timeout(timeout)
        # The long poll has a pool of one connection; when polling stops, the last confirming
        # getUpdates waits for it, which may take more than PTB's default of 1 s on a busy machine.
        builder = builder.pool_timeout(timeout).get_updates_pool_timeout(timeout)
        if self._urls is not None:
            builder = builder.base_url(self._urls[0]).base_file_url(self._urls[1])
        return builder.build()

    async def _initialize(self, app: AnyApplication) -> None:
        # A failed initialize leaves the bot's HTTP client open, and shutdown() would skip it.
        try:
            await app.initialize()
        except InvalidToken as error:
            await app.bot.shutdown()
            raise TelegramStartupError(texts.TOKEN_HELP) from error
        except (TelegramError, OSError) as error:
            await app.bot.shutdown()
            raise TelegramStartupError(f"Telegram could not be reached: {error}") from error

    def _add_handlers(self, app: AnyApplication, buttons: Buttons) -> None:
        app.add_handler(MessageHandler(filters.ALL, self._learn), group=-1)
        app.add_handler(CallbackQueryHandler(buttons.on_press, pattern=CALLBACK_PATTERN))
        for handler in Commands(buttons).handlers():
            app.add_handler(handler)
        app.add_handler(
            MessageHandler(_GROUPS & filters.StatusUpdate.NEW_CHAT_MEMBERS, self._on_joined)
        )
        posted = filters.UpdateType.MESSAGE & _GROUPS & (filters.TEXT | filters.CAPTION)
        app.add_handler(MessageHandler(posted, self._on_message))
        app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & _GROUPS, self._on_edit))
        app.add_handler(ChatMemberHandler(self._on_member, ChatMemberHandler.CHAT_MEMBER))
        app.add_handler(TypeHandler(Update, self._count), group=1)  # after every other handler
        app.add_error_handler(self._on_error)

    async def _receive(self, app: AnyApplication) -> None:
        updater = app.updater
        assert updater is not None
        options = self.options
        if options.updates == "polling":
            await updater.start_polling(poll_interval=0, timeout=options.poll_timeout,
                                        allowed_updates=ALLOWED_UPDATES, error_callback=_polling_error)  # fmt: skip
            return
        try:
            _check_port(options.webhook_listen, options.webhook_port)
            await updater.start_webhook(listen=options.webhook_listen, port=options.webhook_port,
                                        url_path=options.webhook_path, webhook_url=options.webhook_url,
                                        allowed_updates=ALLOWED_UPDATES, secret_token=options.secret())  # fmt: skip
        except OSError as error:
            raise TelegramStartupError(
                f"telegram.webhook_port: cannot listen on {options.webhook_listen}:"
                f"{options.webhook_port} ({error}); free the port or choose another one"
            ) from error

    async def stop(self) -> None:
        """Stop receiving (confirming what was fetched), stop the Application, close the client."""
        app, self.app, self.started = self.app, None, False
        self.gateway = self.adapter = None
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    # -- updates in ---------------------------------------------------------------------------

    async def _learn(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            self.roster.learn(message)

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        author = message.from_user if message is not None else None
        if message is None or author is None:
            return
        event = translate.message_posted(message, self.known, self.roster, context.bot.id)
        if event is None:
            return
        self.roster.spoke(event.conversation, author.id, event.at)
        await self._hand_over(event)
        if self.gateway is not None:
            try:
                await self.gateway.slow.after_message(event.conversation, author.id)
            except PLATFORM_ERRORS as error:
                log.warning("slow_mode_pause_failed", chat=message.chat_id, problem=str(error))

    async def _on_edit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.edited_message
        event = translate.message_edited(message, self.known) if message else None
        if event is not None:
            await self._hand_over(event)

    async def _on_joined(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        for event in translate.members_joined(message, self.known):
            if self.roster.joined_now(message.chat_id, int(event.user), event.at):
                await self._hand_over(event)

    async def _on_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.chat_member
        if change is None:
            return
        admin = translate.admin_change(change)
        if admin is not None:
            self.roster.set_admin(*admin)
        event = translate.member_joined(change, self.known)
        if event is not None and self.roster.joined_now(change.chat.id, int(event.user), event.at):
            await self._hand_over(event)

    async def _count(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.updates_handled += 1

    async def _hand_over(self, event: Event) -> None:
        if self._sink is not None:
            await self._sink(event)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            self.handler_errors.append(context.error)
            log.error("telegram_handler_failed", error=repr(context.error))

    # -- decisions out: the pipeline over the gateway ----------------------------------------

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Carry out one decision (see ``bot.runtime.pipeline``)."""
        if self.adapter is None:
            return ActionResult.failed("the Telegram adapter is not started", retry_after=5.0)
        return await self.adapter.execute(decision, key)

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        """Post ``text`` (the daily digest) in the community's moderators' chat."""
        if self.adapter is None:
            return ActionResult.failed("the Telegram adapter is not started", retry_after=5.0)
        return await self.adapter.post_to_moderators(community, text)

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        """Post ``text`` in the long-form topic ``reference``."""
        if self.adapter is None:
            return ActionResult.failed("the Telegram adapter is not started", retry_after=5.0)
        return await self.adapter.remind_longform(community, reference, text)


class _Receiving:
    """The ``Listener`` the runtime's ``GatewayAdapter`` starts: the adapter's handlers."""

    def __init__(self, telegram: TelegramAdapter, app: AnyApplication,
                 gateway: TelegramGateway) -> None:  # fmt: skip
        self.telegram, self.app, self.gateway = telegram, app, gateway

    async def start(self, sink: EventSink, control: Control) -> None:
        await self.telegram._listen(self.app, self.gateway, control)

    async def stop(self) -> None:
        await self.telegram.stop()


def _check_port(host: str, port: int) -> None:
    """Raise OSError if ``host:port`` cannot be listened on (tornado, failing there, leaks its
    socket; this probe is closed either way)."""
    with socket.create_server((host, port)):
        pass


def _polling_error(error: TelegramError) -> None:
    log.warning("telegram_polling_failed", problem=str(error), hint="PTB retries by itself")


def make_adapter(config: Config, token: str) -> TelegramAdapter:
    """The adapter ``bot.runtime.app`` loads when ``[telegram] enabled = true``."""
    return TelegramAdapter(config, token)
