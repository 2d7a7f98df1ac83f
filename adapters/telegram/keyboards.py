"""Inline keyboards and their callback data.

Callback data is ``<action letter>:<decision key>`` (the key is 32 hex characters, so the data stays
far under Telegram's 64 bytes): pressing a button brings the decision's key back, and everything else
is looked up through ``Control``. Deep links into the private chat use the start payload
``p<key>`` (Telegram allows 64 characters of ``A-Z a-z 0-9 _ -``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup


class Press(StrEnum):
    """What a button asks for. Member buttons sit under notices; the rest under moderator alerts."""

    LONGFORM = "l"  # member: continue in long form
    WHY = "y"  # member: why did Longform post this?
    NOT_HELPFUL = "n"  # member: this notice did not help
    ACKNOWLEDGE = "a"  # moderator
    WRONG = "w"  # moderator: Longform got this wrong
    OPEN_LONGFORM = "o"  # moderator
    SLOW_DOWN = "s"  # moderator
    UNDO = "u"  # moderator

    @property
    def for_moderators(self) -> bool:
        """Whether only admins of the community's chat may press it."""
        return self in MODERATOR_PRESSES


MODERATOR_PRESSES = frozenset(
    {Press.ACKNOWLEDGE, Press.WRONG, Press.OPEN_LONGFORM, Press.SLOW_DOWN, Press.UNDO}
)
_DATA = re.compile(r"^([a-z]):([0-9a-f]{32})$")
CALLBACK_PATTERN = r"^[a-z]:[0-9a-f]{32}$"
START_PREFIX = "p"


@dataclass(frozen=True, slots=True)
class Pressed:
    """A decoded button press."""

    press: Press
    key: str


def data(press: Press, key: str) -> str:
    """The callback data of ``press`` for the decision ``key``."""
    return f"{press.value}:{key}"


def parse(raw: str | None) -> Pressed | None:
    """The press encoded in ``raw`` callback data, or None if it is not one of ours."""
    match = _DATA.match(raw or "")
    if match is None:
        return None
    try:
        return Pressed(Press(match.group(1)), match.group(2))
    except ValueError:
        return None


def start_payload(key: str) -> str:
    """The ``/start`` payload that opens the private prompt of decision ``key``."""
    return f"{START_PREFIX}{key}"


def key_from_start(payload: str) -> str | None:
    """The decision key in a ``/start`` payload, or None."""
    if not payload.startswith(START_PREFIX):
        return None
    key = payload[len(START_PREFIX) :]
    return key if re.fullmatch(r"[0-9a-f]{32}", key) else None


def deep_link(bot_username: str, key: str) -> str:
    """``t.me/<bot>?start=<payload>``: opens the private chat and sends ``/start <payload>``."""
    return f"https://t.me/{bot_username}?start={start_payload(key)}"


def _button(text: str, press: Press, key: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data(press, key))


def notice(key: str, offers_longform: bool) -> InlineKeyboardMarkup:
    """Under a public notice: continue in long form (if offered), why, not helpful."""
    rows = [[_button("Continue in long form", Press.LONGFORM, key)]] if offers_longform else []
    rows.append([_button("Why?", Press.WHY, key), _button("Not helpful", Press.NOT_HELPFUL, key)])
    return InlineKeyboardMarkup(rows)


def prompt(key: str) -> InlineKeyboardMarkup:
    """Under a private prompt: why, not helpful."""
    return InlineKeyboardMarkup(
        [[_button("Why?", Press.WHY, key), _button("Not helpful", Press.NOT_HELPFUL, key)]]
    )


def open_prompt(bot_username: str, key: str) -> InlineKeyboardMarkup:
    """Under the neutral public notice that stands in for a private prompt: the deep link."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("Open your note privately", url=deep_link(bot_username, key))]]
    )


def alert(key: str, acknowledged: bool = False) -> InlineKeyboardMarkup:
    """Under a moderators' alert: acknowledge, mark wrong, open long form, slow down, undo."""
    first = [_button("Mark wrong", Press.WRONG, key)]
    if not acknowledged:
        first.insert(0, _button("Acknowledge", Press.ACKNOWLEDGE, key))
    return InlineKeyboardMarkup(
        [
            first,
            [_button("Open long form", Press.OPEN_LONGFORM, key),
             _button("Slow down", Press.SLOW_DOWN, key)],
            [_button("Undo", Press.UNDO, key)],
        ]
    )  # fmt: skip
