"""Webhook delivery for the fake Telegram server: setWebhook, then updates POSTed to the bot.

How it works: `setWebhook` stores the URL and the secret token and starts one delivery task; it
POSTs each queued update, oldest first, as JSON with the `X-Telegram-Bot-Api-Secret-Token` header,
and drops it from the queue once the bot answers 2xx (as Telegram does); any other answer or a
refused connection is recorded in `deliveries` and retried shortly after. While a webhook is set,
getUpdates fails with 409, as on Telegram. `deleteWebhook` stops delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeTelegramServer

JSON = dict[str, Any]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_RETRY = 0.05  # seconds between attempts at an update the bot did not accept


@dataclass(frozen=True)
class Delivery:
    """One POST of an update to the bot: its id and the HTTP status (0: no connection)."""

    update_id: int
    status: int


class WebhookPusher:
    """Delivers the server's queued updates to the bot's webhook, in order."""

    def __init__(self, server: FakeTelegramServer) -> None:
        self._server = server
        self.url = ""
        self.secret: str | None = None
        self.deliveries: list[Delivery] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """Whether a webhook is set (getUpdates is refused meanwhile)."""
        return bool(self.url)

    def set(self, params: JSON) -> bool:
        """setWebhook: remember where and how to deliver; start delivering."""
        self.url = str(params.get("url") or "")
        self.secret = params.get("secret_token")
        if self.url and self._task is None:
            self._task = asyncio.create_task(self._deliver(), name="fake-telegram-webhook")
        return True

    def info(self, pending: int) -> JSON:
        """getWebhookInfo."""
        return {"url": self.url, "has_custom_certificate": False, "pending_update_count": pending}

    async def stop(self) -> None:
        """deleteWebhook or shutdown: stop delivering (what is queued stays queued)."""
        self.url = ""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver(self) -> None:
        headers = {SECRET_HEADER: self.secret} if self.secret else {}
        async with aiohttp.ClientSession(headers=headers) as session:
            while True:
                update = self._server.next_update()
                if update is None:
                    await self._server.wait_for_change(1.0)
                    continue
                status = await self._post(session, update)
                self.deliveries.append(Delivery(update["update_id"], status))
                if 200 <= status < 300:
                    self._server.confirm(update["update_id"])
                else:
                    await asyncio.sleep(_RETRY)

    async def _post(self, session: aiohttp.ClientSession, update: JSON) -> int:
        try:
            async with session.post(self.url, json=update) as response:
                await response.read()
                return response.status
        except aiohttp.ClientError:
            return 0
