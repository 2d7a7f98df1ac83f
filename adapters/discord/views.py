"""Longform's buttons: persistent, each carrying its action and the decision key in its custom id.

How it works: every button is a ``LongformButton``, a discord.py ``DynamicItem`` whose custom id is
``lf:<action>:<key>`` (the key: 32 hex characters). The client registers the class once with
``add_dynamic_items``, so a click on any Longform message, even one sent before a restart, is
rebuilt from its custom id and handed to the client's ``buttons`` handler (``adapters.discord.
buttons``) with the action and the key. Views have no timeout.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

TEMPLATE = re.compile(r"lf:(?P<action>[a-z_]+):(?P<key>[0-9a-f]{32})")


class ButtonHandler(Protocol):
    """What a click is handed to (the client's ``buttons`` attribute)."""

    async def on_button(self, interaction: discord.Interaction, action: str, key: str) -> None:
        """Answer the click (within Discord's 3 seconds); never raise."""
        ...


class LongformButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=TEMPLATE):
    """A button whose custom id says what to do (``action``) about which decision (``key``)."""

    def __init__(
        self,
        action: str,
        key: str,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label or action, style=style, custom_id=f"lf:{action}:{key}"
        )
        super().__init__(button)
        self.action, self.key = action, key

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> LongformButton:
        """The button a click came from, rebuilt from its custom id."""
        label = getattr(item, "label", None) or match["action"]
        return cls(match["action"], match["key"], label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: ButtonHandler | None = getattr(interaction.client, "buttons", None)
        if handler is not None:
            await handler.on_button(interaction, self.action, self.key)


def _view(key: str, *buttons: tuple[str, str, discord.ButtonStyle]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action, label, style in buttons:
        view.add_item(LongformButton(action, key, label, style))
    return view


_GREY, _BLUE = discord.ButtonStyle.secondary, discord.ButtonStyle.primary
_GREEN, _RED = discord.ButtonStyle.success, discord.ButtonStyle.danger


def notice_view(key: str, offers_longform: bool = True) -> discord.ui.View:
    """Under a public notice: continue in long form, why, and "this wasn't helpful"."""
    buttons = [("longform", "Continue in long form", _BLUE)] if offers_longform else []
    return _view(key, *buttons, ("why", "Why am I seeing this?", _GREY),
                 ("unhelpful", "This wasn't helpful", _GREY))  # fmt: skip


def prompt_view(key: str) -> discord.ui.View:
    """Under a private prompt: why, "this wasn't helpful", and opting out of prompts."""
    return _view(key, ("why", "Why am I getting this?", _GREY),
                 ("unhelpful", "This wasn't helpful", _GREY),
                 ("optout", "No more private notes", _GREY))  # fmt: skip


def note_view(key: str) -> discord.ui.View:
    """Under the neutral public notice that stands in for a DM: shows the note to its member."""
    return _view(key, ("note", "Show my note", _BLUE))


def consent_view(key: str) -> discord.ui.View:
    """Under an offer of a long-form space: accept it, or ask why."""
    return _view(key, ("consent", "Yes, open a long-form space", _BLUE),
                 ("why", "Why am I seeing this?", _GREY))  # fmt: skip


def post_view(key: str) -> discord.ui.View:
    """Under a long-form post's first message: why it was opened."""
    return _view(key, ("why", "Why was this opened?", _GREY))


def alert_view(key: str) -> discord.ui.View:
    """Under a moderators' alert: acknowledge, mark wrong, open long form, slow mode, undo."""
    return _view(key, ("ack", "Acknowledge", _GREEN), ("wrong", "Mark wrong", _RED),
                 ("mlongform", "Open long form", _BLUE), ("mslow", "Set slow mode", _GREY),
                 ("undo", "Undo", _GREY))  # fmt: skip


def custom_ids(message: discord.Message) -> list[str]:
    """The custom ids of the buttons on ``message``."""
    found: list[str] = []
    for row in message.components:
        for child in getattr(row, "children", ()):
            custom_id = getattr(child, "custom_id", None)
            if custom_id:
                found.append(custom_id)
    return found
