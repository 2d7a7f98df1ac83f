"""The Matrix primitives (``bot.runtime.gateway.Gateway``) over one matrix-nio client.

How it works: every primitive is one or a few client-server calls. A homeserver's error response
becomes a ``GatewayError``: ``M_LIMIT_EXCEEDED`` a ``RetryLaterError`` with the server's
``retry_after_ms``, ``M_FORBIDDEN`` a ``MissingPermissionError`` naming the power level to grant,
``M_NOT_FOUND``/``M_UNKNOWN`` an ``UnresolvedError``; network trouble is retried later. Each message
is sent with a transaction id made from the idempotency key, so the homeserver itself drops a
repeat of a retried send. What must outlive the process (a member's direct room, a venue opened
before a crash, which decision a notice is about, for the reactions to it) is kept through
``Memory`` (the runtime's ``Control.remember``/``recall``). Decisions never reach this module: the
runtime's pipeline (``bot.runtime.pipeline``) turns them into these primitives.

Slow mode has no Matrix equivalent: it is emulated through power levels, lowering the heated
participants (never moderators) just below the room's ``events_default`` until the lift, which puts
back exactly each user entry that was there (or removes it if there was none). The heated
participants are the authors of the messages that heated it (``SlowMode.evidence``, their authors
from the ``Roster``); the moderators get a note when it is set and when it is lifted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import structlog
from nio import AsyncClient, ErrorResponse, RoomPreset

from adapters.matrix.translate import MODERATOR_LEVEL, PLATFORM, Roster, body
from bot.runtime.gateway import (
    Action,
    ActionKind,
    Alert,
    CommunityRef,
    GatewayError,
    MemberRef,
    MessageRef,
    MissingPermissionError,
    Notice,
    Place,
    Private,
    RetryLaterError,
    Rights,
    Sent,
    SlowMode,
    SlowModeSet,
    Unreachable,
    UnresolvedError,
    Venue,
)

log = structlog.get_logger()
QUOTE_CHARS = 280  # the least text needed to recognise a key message in a venue
_PERMISSION = {"m.room.power_levels": "power level for m.room.power_levels (usually 100)",
               "m.space.child": "power level for m.space.child in the space (usually 50)",
               "m.room.message": "membership and power level for m.room.message",
               "m.room.redaction": "power level for redacting others' events (usually 50)"}  # fmt: skip


# Matrix has no buttons: a reaction or a reply command stands in for each (adapters.matrix.commands).
REACTIONS = {ActionKind.HELPFUL: "👍", ActionKind.WRONG: "👎", ActionKind.OPEN_LONGFORM: "📝",
             ActionKind.CONSENT: "📝"}  # fmt: skip
HELPFUL, WRONG, LONGFORM = (REACTIONS[k] for k in (ActionKind.HELPFUL, ActionKind.WRONG,
                                                   ActionKind.OPEN_LONGFORM))  # fmt: skip
PROMPT_NOTE = "\n(Only you see this.)"
_HINTS = {ActionKind.HELPFUL: "react 👍 if this helped", ActionKind.WRONG: "👎 if it was wrong",
          ActionKind.OPEN_LONGFORM: "📝 to open a long-form room",
          ActionKind.CONSENT: "react 📝 to accept",
          ActionKind.WHY: "reply “!longform why” to see why",
          ActionKind.OPT_OUT: "reply “!longform optout” to stop these messages",
          ActionKind.UNDO: "moderators: reply “!longform undo” to undo what Longform did there"}  # fmt: skip


def hints(actions: tuple[Action, ...]) -> str:
    """What a notice's buttons would be, as a line saying which reaction or reply to use."""
    kinds = [a.kind for a in actions]
    if ActionKind.WRONG in kinds and ActionKind.HELPFUL not in kinds:
        # A reaction has a pair: where 👎 says it was wrong, 👍 says it helped (both feedback).
        kinds.insert(kinds.index(ActionKind.WRONG), ActionKind.HELPFUL)
    said = [_HINTS[kind] for kind in kinds if kind in _HINTS]
    return f"\n({'; '.join(said)}.)" if said else ""


class Memory(Protocol):
    """Where the gateway keeps what must survive a restart (``Control`` satisfies it)."""

    async def remember(self, name: str, value: object) -> None: ...

    async def recall(self, name: str) -> object: ...


@dataclass(frozen=True, slots=True)
class Community:
    """One configured Matrix community: its rooms, moderators' room and long-form space."""

    ref: CommunityRef
    rooms: tuple[str, ...]
    moderators: str
    space: str


def link(room: str, event: str = "") -> str:
    """A matrix.to link to a room, or to one event in it."""
    readable = "!:@$#"  # ids stay as people read them; anything else is escaped
    return f"https://matrix.to/#/{quote(room, safe=readable)}" + (
        f"/{quote(event, safe=readable)}" if event else ""
    )


def _ok(response: object, action: str, kind: str = "m.room.message") -> Any:
    """``response`` if it is not an error; else the ``GatewayError`` it means, raised."""
    if not isinstance(response, ErrorResponse):
        return response
    code, message = response.status_code or "", response.message or ""
    detail = f"{action}: {code} {message}".strip()
    if code == "M_LIMIT_EXCEEDED":
        raise RetryLaterError(detail, (response.retry_after_ms or 1000) / 1000)
    if code == "M_FORBIDDEN":
        raise MissingPermissionError(_PERMISSION.get(kind, "power level"), action)
    if code in ("M_NOT_FOUND", "M_UNKNOWN", "M_BAD_JSON", "M_INVALID_PARAM"):
        raise UnresolvedError(detail)
    raise RetryLaterError(detail or f"{action}: the homeserver answered with an error", 5.0)


class MatrixGateway:
    """The ``Gateway`` of one bot user on one homeserver."""

    platform = PLATFORM

    def __init__(self, client: AsyncClient, communities: Mapping[str, Community],
                 memory: Memory, roster: Roster) -> None:  # fmt: skip
        self.client, self.communities, self.memory = client, communities, memory
        self.roster = roster
        self.server = client.user_id.partition(":")[2]
        self._creators: dict[str, frozenset[str]] = {}
        self.notices: dict[str, str] = {}  # notice event id -> decision key (reactions)

    async def _call(self, action: str, call: Any, kind: str = "m.room.message") -> Any:
        try:
            return _ok(await call, action, kind)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RetryLaterError(f"{action}: {type(error).__name__} {error}", 5.0) from error

    async def send(self, room: str, content: dict[str, Any], txn: str) -> str:
        """Send one event's content to ``room`` (transaction id ``txn``); its event id."""
        sent = await self._call(f"post in {room}", self.client.room_send(
            room, "m.room.message", content, tx_id=txn, ignore_unverified_devices=True))  # fmt: skip
        return str(sent.event_id)

    def community(self, ref: CommunityRef) -> Community:
        """The configured community ``ref``; UnresolvedError naming the fix if there is none."""
        found = self.communities.get(ref.key)
        if found is None:
            raise UnresolvedError(
                f"{ref} is not a Matrix community in the config ([[communities]])"
            )
        return found

    # -- posting ------------------------------------------------------------------------------

    async def post_notice(self, notice: Notice, key: str) -> Sent:
        """A quiet ``m.notice`` in the notice's place: a reply, inside its thread if it has one."""
        content = _notice(notice.text + hints(notice.actions))
        place, replied = notice.place, notice.reply_to
        if place.thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": place.thread,
                                       "is_falling_back": replied is None,
                                       "m.in_reply_to": {"event_id": replied or place.thread}}  # fmt: skip
        elif replied:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": replied}}
        event = await self.send(place.channel, content, key)
        if notice.actions:  # a reaction or "!longform why" on it is about this decision
            await self.remember_notice(event, notice.actions[0].key)
            await self._remember_in(place.channel, "notices", event)
        return Sent(event, link=link(place.channel, event))

    async def remember_notice(self, event: str, key: str) -> None:
        """Keep which decision a notice is about, for the reactions to it (across restarts)."""
        self.notices[event] = key
        await self.memory.remember(f"matrix:notice:{event}", key)

    async def _remember_in(self, room: str, what: str, item: str, keep: bool = True) -> None:
        """Add ``item`` to (or, ``keep`` False, take it from) the room's remembered ``what``:
        Longform's notices and slow modes there, for an undo (across restarts)."""
        name = f"matrix:{what}:{room}"
        known = await self._remembered(room, what)
        changed = [*known, item] if keep else [i for i in known if i != item]
        if changed != known:
            await self.memory.remember(name, changed)

    async def _remembered(self, room: str, what: str) -> list[str]:
        known = await self.memory.recall(f"matrix:{what}:{room}")
        return [str(i) for i in known] if isinstance(known, list) else []

    async def notice_key(self, event: str) -> str | None:
        """The decision key of the notice ``event``, or None if it is not one of Longform's."""
        key = self.notices.get(event) or await self.memory.recall(f"matrix:notice:{event}")
        return key if isinstance(key, str) else None

    async def reply(self, to: MessageRef, text: str, key: str) -> Sent:
        """Reply to one message, in its thread if it is in one."""
        return await self.post_notice(Notice(to.place, text, reply_to=to.id), key)

    async def alert_moderators(self, alert: Alert, key: str) -> Sent:
        """A notice in the community's moderators' room, with links to the evidence."""
        room = self.community(alert.community).moderators
        if not room:
            raise UnresolvedError(f"no moderators' room is configured for {alert.community}")
        links = [link(m.place.channel, m.id) for m in alert.evidence[:8]]
        why = alert.reason and not alert.could_not  # a downgrade's text says why already
        text = alert.text + (f"\nWhy: {alert.reason}" if why else "")
        text += f"\nMessages: {' '.join(links)}" if links else ""
        undo = [a for a in alert.actions if a.kind is ActionKind.UNDO]
        event = await self.send(room, _notice(text + hints(tuple(undo))), key)
        if undo:  # "!longform undo" in reply to it undoes what Longform did there
            await self.remember_notice(event, undo[0].key)
        return Sent(event, link=link(room, event))

    async def post_in_venue(self, community: CommunityRef, reference: str, text: str) -> Sent:
        """A notice in a long-form room opened earlier (``reference`` is its room id)."""
        txn = hashlib.sha256(f"{reference}\x00{text}".encode()).hexdigest()[:32]
        event = await self.send(reference, _notice(text), txn)
        return Sent(event, link=link(reference, event))

    # -- privately ----------------------------------------------------------------------------

    async def send_private(self, message: Private, key: str) -> Sent | Unreachable:
        """Send in the member's direct room with the bot (made once, remembered)."""
        try:
            room = await self.direct_room(message.member.id)
        except (MissingPermissionError, UnresolvedError) as error:
            return Unreachable(f"no direct room with {message.member.id}: {error}")
        text = message.text + PROMPT_NOTE + hints(message.actions)
        event = await self.send(room, _notice(text), key)
        return Sent(event, link=link(room, event))

    async def direct_room(self, member: str) -> str:
        """The direct room with ``member``: recalled, or created with an invitation."""
        name = f"matrix:direct:{member}"
        known = await self.memory.recall(name)
        if isinstance(known, str):
            return known
        made = await self._call(f"open a direct room with {member}", self.client.room_create(
            is_direct=True, invite=[member], preset=RoomPreset.trusted_private_chat,
            name="Longform"))  # fmt: skip
        room = str(made.room_id)
        await self.memory.remember(name, room)
        return room

    # -- slow mode ----------------------------------------------------------------------------

    async def levels(self, room: str) -> dict[str, Any]:
        """The room's current ``m.room.power_levels`` content."""
        found = await self._call(f"read the power levels of {room}",
                                 self.client.room_get_state_event(room, "m.room.power_levels"))  # fmt: skip
        return dict(found.content)

    async def creators(self, room: str) -> frozenset[str]:
        """The room's creators (room version 12 gives them unlimited power, outside ``users``)."""
        known = self._creators.get(room)
        if known is None:
            state = await self._call(f"read the state of {room}", self.client.room_get_state(room))
            create: dict[str, Any] = next(
                (e for e in state.events if e.get("type") == "m.room.create"), {}
            )
            extra = create.get("content", {}).get("additional_creators", [])
            known = self._creators[room] = frozenset([str(create.get("sender", "")), *extra])
        return known

    async def set_slow_mode(self, slow: SlowMode, key: str) -> SlowModeSet:
        """Lower the heated participants below ``events_default`` until the lift."""
        room = slow.place.channel
        levels = await self.levels(room)
        users: dict[str, int] = dict(levels.get("users", {}))
        muted = int(levels.get("events_default", 0)) - 1
        creators = await self.creators(room)
        before: dict[str, int | None] = {}
        authors = {self.roster.authors.get(m.id) for m in slow.evidence}
        heated = slow.participants or tuple(
            MemberRef(slow.place.community, a) for a in sorted(a for a in authors if a)
        )
        for member in heated:
            level = users.get(member.id, int(levels.get("users_default", 0)))
            spared = member.id == self.client.user_id or member.id in creators
            if spared or level >= MODERATOR_LEVEL or level <= muted:
                continue
            before[member.id] = users.get(member.id)
            users[member.id] = muted
        if before:
            await self._put_levels(room, {**levels, "users": users})
        # The key makes each lift's note its own transaction (the same levels may be muted twice).
        restore = json.dumps({"room": room, "users": before, "key": key}, sort_keys=True)
        if before:
            await self._remember_in(room, "slowed", restore)
        detail = f"emulated: {len(before)} participant(s) read-only until the lift"
        await self._note(slow.place.community, f"Slow mode emulated in {slow.place.channel} until "
                         f"{slow.until:%H:%M} UTC ({detail}). Why: {slow.reason}", f"{key}.note")  # fmt: skip
        return SlowModeSet(restore, emulated=True, detail=detail)

    async def restore_slow_mode(self, place: Place, restore: str) -> Sent:
        """Put back exactly the user entries ``set_slow_mode`` changed."""
        saved = json.loads(restore)
        room, before = str(saved["room"]), dict(saved["users"])
        levels = await self.levels(room)
        users = dict(levels.get("users", {}))
        for user, level in before.items():
            if level is None:
                users.pop(user, None)
            else:
                users[user] = level
        if before:
            await self._put_levels(room, {**levels, "users": users})
        await self._remember_in(room, "slowed", restore, keep=False)
        detail = f"restored {len(before)} participant(s)"
        await self._note(place.community, f"Slow mode lifted in {place.channel}: {detail}.",
                         _digest(restore, "lift"))  # fmt: skip
        return Sent(room, detail=detail)

    async def undo_actions(self, place: Place, key: str) -> Sent:
        """Restore the power levels of every slow mode Longform emulated in the room and redact
        its notices there."""
        room = place.channel
        slowed = await self._remembered(room, "slowed")
        for restore in slowed:
            await self.restore_slow_mode(place, restore)
        removed = 0
        for event in await self._remembered(room, "notices"):
            try:
                await self._call(f"redact a notice in {room}", self.client.room_redact(
                    room, event, reason="undone by a moderator", tx_id=_digest(key, event)),
                    "m.room.redaction")  # fmt: skip
                removed += 1
            except UnresolvedError:  # gone already
                pass
            await self._remember_in(room, "notices", event, keep=False)
        return Sent(room, f"{len(slowed)} slow mode(s) lifted, {removed} notice(s) removed")

    async def _note(self, community: CommunityRef, text: str, txn: str) -> None:
        """A note to the moderators that must not fail the step it reports on."""
        try:
            await self.alert_moderators(Alert(community, text), txn)
        except GatewayError as error:
            log.warning("moderator_note_failed", community=community.key, problem=error.detail)

    async def _put_levels(self, room: str, levels: dict[str, Any]) -> None:
        await self._call(f"change the power levels of {room}", self.client.room_put_state(
            room, "m.room.power_levels", levels), "m.room.power_levels")  # fmt: skip

    # -- long form ----------------------------------------------------------------------------

    async def open_venue(self, venue: Venue, key: str) -> Sent:
        """A new room in the community's space: intro, template, quotes with links back."""
        community = self.community(venue.origin.community)
        if not community.space:
            raise UnresolvedError(f"no long-form space is configured for {community.ref}")
        name = f"matrix:venue:{key}"
        room = await self.memory.recall(name)
        if not isinstance(room, str):  # a retry after a crash does not open a second room
            room = await self._new_room(venue, community.space)
            await self.memory.remember(name, room)
        # Watched from now on (and after a restart): who moves there and writes is an outcome.
        self.roster.rooms.setdefault(room, community.ref.key)
        await self._remember_in(community.ref.key, "venues", room)
        await self._call(f"add the long-form room to the space {community.space}",
                         self.client.room_put_state(community.space, "m.space.child",
                                                    {"via": [self.server]}, state_key=room),
                         "m.space.child")  # fmt: skip
        sections = "\n".join(f"• {section}:" for section in venue.template)
        await self.send(room, _notice(f"{venue.intro}\n{sections}".strip()), f"{key}.intro")
        quotes = [await self._quote(message) for message in venue.quotes[:8]]
        back = link(venue.origin.channel, venue.origin.thread)
        text = "\n".join([*quotes, f"Where it started: {back}"])
        await self.send(room, _notice(text), f"{key}.quotes")
        return Sent(room, detail=f"room {room} in space {community.space}", link=link(room))

    def venue_place(self, community: CommunityRef, reference: str) -> Place:
        """A long-form room: its messages are the room's (watched since ``open_venue``)."""
        if not reference.startswith("!"):
            raise UnresolvedError(f"not a Matrix room id: {reference!r}")
        return Place(community, reference)

    async def venues(self, community: CommunityRef) -> list[str]:
        """The long-form rooms opened for ``community`` (watched like its own rooms)."""
        return await self._remembered(community.key, "venues")

    async def _new_room(self, venue: Venue, space: str) -> str:
        parent = {"type": "m.space.parent", "state_key": space,
                  "content": {"via": [self.server], "canonical": True}}  # fmt: skip
        made = await self._call("open a long-form room", self.client.room_create(
            name=venue.title, topic=venue.title, preset=RoomPreset.public_chat,
            invite=[m.id for m in venue.participants if m.id != self.client.user_id],
            initial_state=[parent]))  # fmt: skip
        return str(made.room_id)

    async def _quote(self, message: MessageRef) -> str:
        """``> author: text`` and a link back, or just the link if the message is gone."""
        there = link(message.place.channel, message.id)
        found = await self.client.room_get_event(message.place.channel, message.id)
        if isinstance(found, ErrorResponse):
            return there
        source = found.event.source
        text = body(source.get("content", {})) or ""
        clipped = text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"
        return f"> {source.get('sender', '')}: {clipped}\n{there}"

    # -- rights and names ---------------------------------------------------------------------

    async def rights(self, member: MemberRef, place: Place) -> Rights:
        """A moderator is a room creator or a member with power level 50 or more in the room."""
        levels = await self.levels(place.channel)
        level = levels.get("users", {}).get(member.id, levels.get("users_default", 0))
        creator = member.id in await self.creators(place.channel)
        return Rights(moderator=creator or int(level) >= MODERATOR_LEVEL, name=member.id)

    async def resolve_names(
        self, community: CommunityRef, ids: tuple[str, ...]
    ) -> Mapping[str, str]:
        """Display names of the user ids (others are left out)."""
        names: dict[str, str] = {}
        for user in ids:
            if user.startswith("@"):
                found = await self.client.get_displayname(user)
                name = getattr(found, "displayname", None)
                if name:
                    names[user] = str(name)
        return names


def _digest(*parts: str) -> str:
    """A stable transaction id for a send that has no key of its own."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _notice(text: str) -> dict[str, Any]:
    """A notice's content: ``m.notice`` (what bots post), mentioning nobody (no pings)."""
    return {"msgtype": "m.notice", "body": text[:30000], "m.mentions": {}}
