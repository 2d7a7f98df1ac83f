"""What the Telegram adapter writes: links to messages and topics, readable names, fixed wording.

Texts are sent as plain text (no parse mode), so nothing a member wrote or a policy says can break
the markup; Telegram turns the links into clickable ones by itself. The core names members and
places by id; ``humanise`` swaps the ids it knows for first names and topic or group names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

ALERT_LIMIT = 200  # characters Telegram shows in a callback query's alert
MESSAGE_LIMIT = 4096

PRIVACY_HELP = (
    "Longform cannot read every message in {chat}: Telegram's privacy mode is on for @{bot} and "
    "the bot is not an admin there, so it only sees commands and replies to itself. Fix one of: "
    "make @{bot} an admin of {chat}; or in @BotFather send /setprivacy, choose @{bot}, pick "
    "Disable, then remove the bot from the group and add it again."
)
NOT_ADMIN = (
    "@{bot} is not an admin of {chat}, so Longform can neither emulate slow mode there nor open "
    "long-form topics: make it an admin with the rights to ban users and to manage topics."
)
TOKEN_HELP = (
    "Telegram rejected the bot token: check that telegram.token_env names the environment "
    "variable holding the token @BotFather gave you (send /token to @BotFather to see it again)."
)
NEUTRAL_PROMPT = (
    "Longform has a short private note for one of the people in this conversation. If it is "
    "for you, the button below opens it in a private chat; only you can read it there."
)
PROMPT_FOOTER = "\n\n(A private note from Longform. Send /optout to stop these notes.)"
WELCOME = (
    "Hello, I am Longform. I help professional groups keep disagreements about ideas, and I "
    "never remove anything: moderators decide. Send /optout to stop private notes from me."
)
GONE = "This note is too old: Longform no longer has it."
DASHBOARD_SENT = "I sent you a private sign-in link to the dashboard."
DASHBOARD_START_FIRST = (
    "I cannot write to you privately yet: open a private chat with me, send /start, then send "
    "/dashboard there."
)
NOT_YOURS = "This note was meant for another member, so it stays private to them."
ASK_SLOW_MODE = (
    "Please set slow mode in {place}: one message every {seconds} s until {until} (group "
    "settings > Permissions > Slow mode). Telegram does not let bots set it. Reason: {reason}"
)
SLOW_MODE_EMULATED = (
    "Slow mode emulated in {place} until {until}: {count} participant(s) can send nothing for "
    "{pause} s, and each participant is paused {pause} s after every message (Telegram bots "
    "cannot set slow mode; a restriction applies to the whole group). Reason: {reason}"
)
SLOW_MODE_LIFTED = "Slow mode lifted in {place}: {count} restriction(s) removed."
NOT_A_FORUM = (
    "Longform could not open a long-form topic for {place}: {chat} is not a forum. Turn on "
    "Topics in that group, or set communities.longform_space to a forum group where the bot "
    "may manage topics."
)
LONGFORM_BACK = "Started from {url}"


def clock(at: datetime) -> str:
    """``14:32 UTC``: a time of day as moderators read it."""
    return at.strftime("%H:%M UTC")


def message_link(chat_id: int, message_id: int, topic_id: int | None = None,
                 username: str | None = None) -> str | None:  # fmt: skip
    """A t.me link to a message, or None where Telegram has none (basic groups, private chats)."""
    if username:
        return f"https://t.me/{username}/{message_id}"
    internal = _internal(chat_id)
    if internal is None:
        return None
    middle = f"/{topic_id}" if topic_id is not None else ""
    return f"https://t.me/c/{internal}{middle}/{message_id}"


def topic_link(chat_id: int, topic_id: int, username: str | None = None) -> str | None:
    """A t.me link that opens a forum topic."""
    if username:
        return f"https://t.me/{username}/{topic_id}"
    internal = _internal(chat_id)
    return None if internal is None else f"https://t.me/c/{internal}/{topic_id}"


def _internal(chat_id: int) -> str | None:
    """The id t.me/c links use: a supergroup's id without its ``-100`` prefix."""
    text = str(chat_id)
    return text[4:] if text.startswith("-100") else None


def humanise(text: str, names: Mapping[str, str]) -> str:
    """``text`` with each id in ``names`` (as a whole token) replaced by its readable name."""
    wanted = {raw: name for raw, name in names.items() if raw and name and raw != name}
    if not wanted:
        return text
    ids = "|".join(re.escape(raw) for raw in sorted(wanted, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w:\-])(?:{ids})(?![\w:])")
    return pattern.sub(lambda match: wanted[match.group(0)], text)


_NUMBER = re.compile(r"(?<![\w:\-])-?\d+(?![\w:])")


def numbers(text: str) -> list[str]:
    """The standalone numbers in ``text`` (member, group and topic ids among them)."""
    return _NUMBER.findall(text)


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lines(parts: Iterable[str | None]) -> str:
    """The non-empty parts, one per line."""
    return "\n".join(part for part in parts if part)


def dashboard_link(url: str, communities: int) -> str:
    """The private message carrying a dashboard sign-in link."""
    scope = "your group" if communities == 1 else f"the {communities} groups you administer"
    return (f"Your sign-in link to Longform's dashboard for {scope}:\n{url}\n"
            "It works once, for 10 minutes. Do not share it: it signs in as you.")  # fmt: skip
