"""Matrix events (as the homeserver sent them, nio's ``event.source``) -> core events, or ``None``.

How it works: a room the config lists belongs to the community ``matrix:<id>``; the room id is the
channel and a thread's root event id (``m.relates_to`` with ``rel_type: m.thread``) the thread, so
a thread is its own conversation, as a forum topic is on Telegram. Event ids are unique on the
whole server, so the core sees them unchanged. A reply is ``m.in_reply_to``, except the fallback a
thread message carries (``is_falling_back``) that only points at the thread's last message. Mentions
are the sender's ``m.mentions.user_ids`` plus the pills (``https://matrix.to/#/@user:server``
links) in the formatted body. An edit (``m.replace``) becomes ``MessageEdited`` of the original
with ``m.new_content``; a redaction ``MessageDeleted``; a join that was not one before
``MemberJoined``. Ignored: the bot's own events, rooms not listed, commands (``!longform``),
notices (other bots), and anything without text. Time is the event's ``origin_server_ts``.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core.events import MemberJoined, MessageDeleted, MessageEdited, MessagePosted

PLATFORM = "matrix"
COMMAND = "!longform"
MODERATOR_LEVEL = 50  # Matrix clients call power level 50 "Moderator"
MODERATOR_ROLES = frozenset({"admin", "moderator"})  # what a policy's exempt_roles can name
_PILL = re.compile(r"https://matrix\.to/#/(@[^\"'<>?/\s]+)")
_REMEMBERED = 5000  # event authors kept for replies: about a day of a busy room's messages
Event = Mapping[str, Any]
CoreEvent = MessagePosted | MessageEdited | MessageDeleted | MemberJoined


@dataclass
class Roster:
    """What translation needs to remember: rooms' communities, recent authors, levels, joins."""

    bot: str
    rooms: dict[str, str]  # room id -> core community id (encrypted rooms are removed)
    authors: OrderedDict[str, str] = field(default_factory=OrderedDict)  # event id -> sender
    levels: dict[str, dict[str, Any]] = field(default_factory=dict)  # room -> power levels
    joined: dict[tuple[str, str], datetime] = field(default_factory=dict)
    creators: dict[str, frozenset[str]] = field(default_factory=dict)  # room -> its creators

    def learn(self, event_id: str, sender: str) -> None:
        """Remember who wrote ``event_id`` (for the author of a later reply)."""
        self.authors[event_id] = sender
        while len(self.authors) > _REMEMBERED:
            self.authors.popitem(last=False)

    def level(self, room: str, user: str) -> int:
        """``user``'s power level in ``room`` (the room's ``users_default`` if unnamed)."""
        levels = self.levels.get(room, {})
        return int(levels.get("users", {}).get(user, levels.get("users_default", 0)))

    def moderator(self, room: str, user: str) -> bool:
        """Whether ``user`` created ``room`` or has a moderator's power level there."""
        return user in self.creators.get(room, ()) or self.level(room, user) >= MODERATOR_LEVEL


def at(event: Event) -> datetime:
    """When the homeserver received ``event`` (UTC)."""
    return datetime.fromtimestamp(int(event.get("origin_server_ts", 0)) / 1000, UTC)


def relation(event: Event) -> Mapping[str, Any]:
    """The event's ``m.relates_to`` ({} if none)."""
    related = event.get("content", {}).get("m.relates_to")
    return related if isinstance(related, Mapping) else {}


def thread_of(event: Event) -> str:
    """The root event id of the thread the event is in, or "" (the room's main timeline)."""
    related = relation(event)
    return str(related.get("event_id", "")) if related.get("rel_type") == "m.thread" else ""


def reply_to(event: Event) -> str | None:
    """The event id this one replies to, or None (a thread's fallback is not a reply)."""
    related = relation(event)
    if related.get("is_falling_back"):
        return None
    replied = related.get("m.in_reply_to")
    return (
        str(replied["event_id"]) if isinstance(replied, Mapping) and "event_id" in replied else None
    )


def mentions(event: Event) -> tuple[str, ...]:
    """The users the event mentions: ``m.mentions`` and the pills of its formatted body."""
    content = event.get("content", {})
    named = content.get("m.mentions", {}).get("user_ids", [])
    pills = _PILL.findall(str(content.get("formatted_body", "")))
    return tuple(dict.fromkeys([*(str(u) for u in named), *pills]))


def body(content: Mapping[str, Any]) -> str | None:
    """The text of a message's content without a reply's quoted fallback (``> <@a> ...``)."""
    text = content.get("body")
    if not isinstance(text, str):
        return None
    lines = text.splitlines()
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    text = "\n".join(lines).strip()
    return text or None


def is_command(event: Event) -> bool:
    """Whether the message is a ``!longform`` command (commands are not conversation)."""
    text = body(event.get("content", {})) or ""
    return text.split(maxsplit=1)[:1] == [COMMAND]


def event(raw: Event, room: str, roster: Roster) -> CoreEvent | None:
    """The core event for one timeline event of ``room``, or None if Longform ignores it."""
    community = roster.rooms.get(room)
    if community is None or raw.get("sender") == roster.bot:
        return None
    kind = raw.get("type")
    if kind == "m.room.member":
        return _joined(raw, room, community, roster)
    if kind == "m.room.redaction":
        redacted = raw.get("redacts") or raw.get("content", {}).get("redacts")
        return MessageDeleted(str(redacted), at(raw)) if redacted else None
    if kind != "m.room.message" or "event_id" not in raw:
        return None
    if relation(raw).get("rel_type") == "m.replace":
        return _edited(raw)
    return _posted(raw, room, community, roster)


def _posted(raw: Event, room: str, community: str, roster: Roster) -> MessagePosted | None:
    content = raw.get("content", {})
    text = body(content)
    if text is None or content.get("msgtype") not in ("m.text", "m.emote") or is_command(raw):
        return None
    sender, replied = str(raw["sender"]), reply_to(raw)
    roster.learn(str(raw["event_id"]), sender)
    return MessagePosted(
        str(raw["event_id"]), at(raw), community, room, sender, text, thread=thread_of(raw),
        reply_to=replied, reply_to_author=roster.authors.get(replied) if replied else None,
        mentions=tuple(m for m in mentions(raw) if m != sender),
        author_joined_at=roster.joined.get((room, sender)),
        author_roles=MODERATOR_ROLES if roster.moderator(room, sender) else frozenset(),
    )  # fmt: skip


def _edited(raw: Event) -> MessageEdited | None:
    new = raw.get("content", {}).get("m.new_content", {})
    text = body(new) if isinstance(new, Mapping) else None
    original = relation(raw).get("event_id")
    return MessageEdited(str(original), at(raw), text) if text and original else None


def _joined(raw: Event, room: str, community: str, roster: Roster) -> MemberJoined | None:
    content = raw.get("content", {})
    before = raw.get("unsigned", {}).get("prev_content", {}).get("membership")
    user = str(raw.get("state_key", ""))
    if content.get("membership") != "join" or before == "join" or user == roster.bot:
        return None
    roster.joined[(room, user)] = at(raw)
    return MemberJoined(at(raw), community, user)
