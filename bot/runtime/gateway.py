"""What a platform must offer Longform: a gateway of primitives, declared once for every adapter.

How it works: the execution pipeline (``bot.runtime.pipeline``) turns each core decision into a
few calls of these primitives and alone decides what a result means (idempotency, retries, the
downgrade to a moderators' alert, shadow mode and opt-outs, slow-mode lifts). A gateway therefore
knows nothing of decisions: it posts, replies, sends privately, slows a place down and restores it,
opens a long-form venue, alerts moderators, checks rights and resolves names, and says plainly
what happened. Expected alternatives are results (``Unreachable`` when a member cannot be written
to privately); platform trouble is one of the ``GatewayError`` subclasses below, raised, so the
pipeline has one place that turns an error into an outcome:

- ``RetryLaterError``: rate limited or briefly unavailable (a 429's ``retry_after``, a timeout, a 5xx);
- ``MissingPermissionError``: the bot lacks a right, named as the platform names it (downgraded to a
  moderators' alert that says which right to grant);
- ``UnresolvedError``: the place, member or message does not exist or is not configured (final).

Every primitive that creates something takes an idempotency ``key`` (the outbox key, or the key of
one step of a multi-step action): a platform that can refuse a duplicate (Discord's nonce, a
Matrix transaction id) uses it, and the returned ``Sent.reference`` is what the pipeline records,
so a retry after a crash resumes after the last step done instead of doing it again.

Ids stay strings, as the platform writes them; ``CommunityRef`` and ``Place`` carry which platform
and which community they belong to, so nobody splits ``"discord:123"`` by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.core.events import ConversationKey

# -- where things are ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class CommunityRef:
    """One community of one platform: a Discord guild, a Telegram group, a Matrix space."""

    platform: str
    id: str

    @classmethod
    def parse(cls, community: str) -> CommunityRef:
        """The ref of a core community id (``"<platform>:<id>"``); ValueError naming the fix."""
        platform, colon, raw = community.partition(":")
        if not colon or not platform or not raw:
            raise ValueError(
                f"{community!r} is not a community id: write it as '<platform>:<id>', "
                "e.g. 'discord:1234' or 'matrix:!space:example.org'"
            )
        return cls(platform, raw)

    @classmethod
    def of(cls, community: str) -> CommunityRef:
        """The ref of a community id the runtime made itself (stored, configured), read without
        complaint: an id without a platform gives ``platform=""``. For ids a person typed, use
        ``parse``, which names the problem."""
        platform, colon, raw = community.partition(":")
        return cls(platform, raw) if colon else cls("", community)

    @property
    def key(self) -> str:
        """The community id the core sees (``"<platform>:<id>"``)."""
        return f"{self.platform}:{self.id}"

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Place:
    """A conversation's place: a channel (room, group) and, inside it, a thread (topic) or ""."""

    community: CommunityRef
    channel: str
    thread: str = ""

    @classmethod
    def of(cls, conversation: ConversationKey) -> Place:
        """The place of a core conversation."""
        return cls(CommunityRef.parse(conversation.community), conversation.channel,
                   conversation.thread)  # fmt: skip

    @property
    def id(self) -> str:
        """The thread's id inside a thread, else the channel's (where a notice or slow mode goes)."""
        return self.thread or self.channel

    @property
    def conversation(self) -> ConversationKey:
        """The core's key of this place."""
        return ConversationKey(self.community.key, self.channel, self.thread)


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A member of a community, by the platform's user id."""

    community: CommunityRef
    id: str


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message in a place, by the platform's message id."""

    place: Place
    id: str


# -- what is sent -------------------------------------------------------------------------------


class ActionKind(StrEnum):
    """What a button (or the platform's stand-in: a reaction, a reply command) asks for.

    The adapter translates a click into the core's request event carrying the kind and the
    decision key; what each kind *means* is written once, in the core.
    """

    WHY = "why"  # explain the decision, to the clicker alone
    HELPFUL = "helpful"  # feedback: it helped
    WRONG = "wrong"  # feedback: it was wrong
    OPEN_LONGFORM = "longform"  # a member asks for a long-form space
    CONSENT = "consent"  # a participant accepts the offer of a long-form space
    ACKNOWLEDGE = "ack"  # a moderator has seen the alert
    MOVE = "move"  # a moderator moves the conversation to a long-form space
    SLOW_DOWN = "slow"  # a moderator slows the conversation down
    UNDO = "undo"  # a moderator undoes what Longform did there
    OPT_OUT = "optout"  # a member stops private prompts
    SHOW_NOTE = "note"  # show a private note to its member alone (DMs were closed)


@dataclass(frozen=True, slots=True)
class Action:
    """A button on a posted message: its kind, the decision it is about, and its label."""

    kind: ActionKind
    key: str  # the decision's idempotency key (32 hex characters)
    label: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to post in a place, quietly (no pings), optionally as a reply to ``reply_to``."""

    place: Place
    text: str
    actions: tuple[Action, ...] = ()
    reply_to: str | None = None  # a message id in ``place``; posted plainly if it is gone


@dataclass(frozen=True, slots=True)
class Private:
    """A private message to one member (a DM, a direct room, a private chat with the bot)."""

    member: MemberRef
    text: str
    actions: tuple[Action, ...] = ()
    origin: Place | None = None  # where the conversation it is about happens, for context


@dataclass(frozen=True, slots=True)
class Alert:
    """A message for the community's moderators, with links to the evidence."""

    community: CommunityRef
    text: str
    place: Place | None = None  # the conversation it is about
    evidence: tuple[MessageRef, ...] = ()
    actions: tuple[Action, ...] = ()
    reason: str = ""  # why, when ``text`` is a summary (a platform may show it on its own line)
    # An alert standing in for an action the bot could not do: that action and why not (the
    # platform's words), so a platform may word it its own way; ``text`` says it all in plain words.
    could_not: str = ""
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Quote:
    """A key message quoted in a long-form venue: who wrote it, what, and a link back."""

    message: MessageRef
    author: str  # the platform's user id
    text: str  # the least text needed: the platform's own excerpt, already clipped


@dataclass(frozen=True, slots=True)
class Venue:
    """A long-form venue to open: a forum post, a topic, a room in the community's space."""

    origin: Place
    title: str  # the topic already filled in
    intro: str
    template: tuple[str, ...]
    quotes: tuple[MessageRef, ...] = ()  # the gateway fetches and quotes or copies them
    participants: tuple[MemberRef, ...] = ()
    slow_mode_seconds: int = 0  # a slow mode inside the venue, where the platform has one
    tags: tuple[str, ...] = ()
    started_from: str = ""  # the message id in ``origin`` it started from, for a link back


@dataclass(frozen=True, slots=True)
class SlowMode:
    """Slow ``place`` to one message per member every ``seconds`` until ``until``.

    ``participants`` are the members heated in the conversation: a platform without slow mode
    (Telegram, Matrix) emulates it by restricting them (or raising the room's posting level).
    """

    place: Place
    seconds: int
    until: datetime
    participants: tuple[MemberRef, ...] = ()
    reason: str = ""  # why, for the note a platform leaves its moderators (or its request to them)
    # The messages that heated it: a platform that knows their authors (Matrix) mutes just them.
    evidence: tuple[MessageRef, ...] = ()


# -- what comes back ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    """Done: ``reference`` is the platform's id of what was created (message, post, room)."""

    reference: str
    detail: str = ""
    link: str = ""  # a URL or mention that leads to it, where the platform has one


@dataclass(frozen=True, slots=True)
class Unreachable:
    """The member cannot be written to privately (DMs closed, never started the bot)."""

    reason: str


@dataclass(frozen=True, slots=True)
class SlowModeSet:
    """A slow mode is on. ``restore`` is the gateway's own record of what was there before
    (JSON text), handed back unchanged to ``restore_slow_mode``; the pipeline stores it so the
    lift restores exactly that, even after a restart."""

    restore: str
    emulated: bool = False  # True when done by restricting members or power levels
    detail: str = ""
    # True when the platform could only ask its moderators to set it (Telegram without the
    # right to restrict): the decision is DOWNGRADED, and the lift tells them it can go.
    asked: bool = False


@dataclass(frozen=True, slots=True)
class Rights:
    """What a member may do where they asked (a moderator's command, a moderator's button)."""

    moderator: bool  # may use moderator actions (slow down, undo, mode, policy)
    name: str = ""  # their display name, for replies and the audit


# -- errors -------------------------------------------------------------------------------------


class GatewayError(Exception):
    """Platform trouble a primitive could not get past; ``detail`` says what, in words."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class RetryLaterError(GatewayError):
    """Rate limited, timed out or briefly unavailable: worth trying again after ``retry_after``."""

    def __init__(self, detail: str, retry_after: float = 0.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class MissingPermissionError(GatewayError):
    """The bot lacks ``permission`` (as the platform names it) to ``action``."""

    def __init__(self, permission: str, action: str) -> None:
        super().__init__(f"the bot lacks the {permission} permission to {action}")
        self.permission, self.action = permission, action


class UnresolvedError(GatewayError):
    """A place, member or message is unknown or not configured: trying again will not help."""


# -- the gateway --------------------------------------------------------------------------------


@runtime_checkable
class Gateway(Protocol):
    """One platform's primitives. Every method raises only ``GatewayError`` subclasses."""

    @property
    def platform(self) -> str:
        """``discord``, ``telegram``, ``matrix``: the platform of its ``CommunityRef``s."""
        ...

    async def post_notice(self, notice: Notice, key: str) -> Sent:
        """Post ``notice`` in its place (a reply in the thread where the platform has them)."""
        ...

    async def reply(self, to: MessageRef, text: str, key: str) -> Sent:
        """Reply to one message with ``text`` (a link left in the original conversation...)."""
        ...

    async def send_private(self, message: Private, key: str) -> Sent | Unreachable:
        """Send ``message`` privately, or say why the member cannot be reached that way."""
        ...

    async def set_slow_mode(self, slow: SlowMode, key: str) -> SlowModeSet:
        """Set slow mode, or emulate it; what to restore comes back in ``SlowModeSet.restore``."""
        ...

    async def restore_slow_mode(self, place: Place, restore: str) -> Sent:
        """Put back exactly what ``restore`` (from ``set_slow_mode``) says was there."""
        ...

    async def open_venue(self, venue: Venue, key: str) -> Sent:
        """Open a long-form venue with its intro, template and quotes; ``link`` leads to it.
        Leaving a link in the origin is a separate step (``reply``), so a retry does not repeat
        the opening."""
        ...

    async def alert_moderators(self, alert: Alert, key: str) -> Sent:
        """Post ``alert`` where the community's moderators read (UnresolvedError if nowhere)."""
        ...

    async def undo_actions(self, place: Place, key: str) -> Sent:
        """Undo what Longform did in ``place``: end its slow mode there (restoring what it
        replaced) and remove its notices; ``Sent.detail`` says what was done, in words."""
        ...

    async def post_in_venue(self, community: CommunityRef, reference: str, text: str) -> Sent:
        """Post ``text`` in a venue opened earlier (``reference`` from ``open_venue``)."""
        ...

    def venue_place(self, community: CommunityRef, reference: str) -> Place:
        """Where the messages written in venue ``reference`` (from ``open_venue``) arrive, as
        their core events name it; UnresolvedError if ``reference`` is not one of the platform's
        venues. From then on the gateway's listener hands those messages in."""
        ...

    async def rights(self, member: MemberRef, place: Place) -> Rights:
        """What ``member`` may do in ``place``."""
        ...

    async def resolve_names(
        self, community: CommunityRef, ids: tuple[str, ...]
    ) -> Mapping[str, str]:
        """Readable names for the member, channel and thread ids it knows (others left out)."""
        ...


@dataclass(frozen=True, slots=True)
class Step:
    """One recorded step of a multi-step action: its name and what it created."""

    name: str
    reference: str
    link: str = ""
    detail: str = ""  # what the step reported (kept so a retry reports the same)


@dataclass(frozen=True, slots=True)
class Steps:
    """The steps of one action done so far (the pipeline keeps them beside the outbox item)."""

    done: tuple[Step, ...] = field(default=())

    def get(self, name: str) -> Step | None:
        """The step ``name`` if it was done."""
        return next((step for step in self.done if step.name == name), None)

    def plus(self, step: Step) -> Steps:
        """These steps and ``step``."""
        return Steps((*self.done, step))
