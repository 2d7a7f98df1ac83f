"""The Telegram adapter's settings: how updates arrive (long polling or a webhook) and how slow
mode is emulated when the policy does not say.

The fields live in ``bot.config.TelegramConfig`` (documented in config.example.toml):

- ``updates``: ``"polling"`` (default) or ``"webhook"``.
- ``poll_timeout``: seconds one long poll waits for updates (default 30).
- ``webhook_url``: the public HTTPS URL Telegram posts updates to (required for webhooks).
- ``webhook_listen`` / ``webhook_port`` / ``webhook_path``: where the local webhook server listens
  (default ``127.0.0.1``, 8443, ``telegram``), usually behind a reverse proxy.
- ``webhook_secret_env``: environment variable holding the secret Telegram sends back in the
  ``X-Telegram-Bot-Api-Secret-Token`` header (default ``LONGFORM_TELEGRAM_WEBHOOK_SECRET``; if unset,
  a random secret is made at each start, which works because the webhook is set at each start).
- ``slow_mode``: ``"restrict"`` (default) or ``"ask_admins"``, used where the policy has no
  ``slow_mode.emulation``.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from adapters.telegram.service import EMULATIONS, Emulation
from bot.config import Config

Updates = Literal["polling", "webhook"]
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as a secret token


class OptionsError(ValueError):
    """A Telegram setting that cannot be used; the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class TelegramOptions:
    """Everything the adapter needs beyond the token and the communities."""

    updates: Updates = "polling"
    poll_timeout: int = 30
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_path: str = "telegram"
    webhook_secret: str = ""
    slow_mode: Emulation = "restrict"
    request_timeout: float = 10.0

    @classmethod
    def from_config(
        cls, config: Config, environ: Mapping[str, str] = os.environ
    ) -> TelegramOptions:
        """The options in ``config.telegram``, checked."""
        section = config.telegram
        options = cls(
            updates=section.updates,
            poll_timeout=section.poll_timeout,
            webhook_url=section.webhook_url,
            webhook_listen=section.webhook_listen,
            webhook_port=section.webhook_port,
            webhook_path=section.webhook_path,
            webhook_secret=environ.get(section.webhook_secret_env, "").strip(),
            slow_mode=section.slow_mode,
        )
        options.check()
        return options

    def check(self) -> None:
        """Raise OptionsError naming the setting and the fix if these options cannot work."""
        if self.updates not in ("polling", "webhook"):
            raise OptionsError(f"telegram.updates: {self.updates!r}; use polling or webhook")
        if self.slow_mode not in EMULATIONS:
            raise OptionsError(
                f"telegram.slow_mode: {self.slow_mode!r}; use restrict or ask_admins"
            )
        if self.updates == "webhook" and not self.webhook_url.startswith(("https://", "http://")):
            raise OptionsError("telegram.webhook_url: set the public HTTPS URL Telegram should post "
                               "updates to (or use updates = \"polling\")")  # fmt: skip
        if self.webhook_secret and not _SECRET.match(self.webhook_secret):
            raise OptionsError("the webhook secret may use only A-Z, a-z, 0-9, _ and - (1-256)")

    def secret(self) -> str:
        """The webhook secret: the configured one, or a fresh random one."""
        return self.webhook_secret or secrets.token_urlsafe(32)


def api_urls(api_url: str) -> tuple[str, str] | None:
    """(base_url, base_file_url) for PTB from ``telegram.api_url``, or None for Telegram's own.

    Accepts ``http://host:port``, ``.../bot`` or a URL with PTB's ``{token}`` placeholder.
    """
    if not api_url:
        return None
    if "{token}" in api_url:
        return api_url, api_url.replace("/bot{token}", "/file/bot{token}")
    root = api_url.rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"
