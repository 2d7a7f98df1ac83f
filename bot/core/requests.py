"""What people ask of Longform, as core events, and the decisions each request makes.

How it works: a button, a slash command, ``/move`` or a reply command is translated by its adapter
into a ``ModeratorRequested`` or a ``MemberRequested`` event; ``decide`` turns it into decisions
(texts, durations, keys) under the channel's settings, exactly as the engine does for detections,
so what a request *means* is written once for every platform. Pure: the time is the request's.

Keys: a request's decision carries ``message_id``, the message the request was made from (the
moderators' alert or the notice that was clicked, or the thread's last message for ``/move``), not
the message the engine acted on. The outbox drops a repeated key, so a moderator's "slow down" on
an alert must not reuse the key of the engine's own slow mode for that message, and a second click
on the same alert asks nothing new. Every platform keys the same way.

Requests that decide nothing (why, feedback, opt-out, undo, mode) stay calls of the runtime's
``Control``: they read or record, they do not act on a conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.decisions import Decision, Decisions, Evidence, OpenLongformSpace, SetSlowMode, Signal
from bot.core.events import ConversationKey
from bot.core.settings import LongformSettings, Settings

INVITATION = (
    "This conversation deserves more room. Each participant is invited to set out their view "
    "under the headings below, at their own pace."
)
MODERATOR_OPENED = "A moderator has opened a long-form space for this discussion."


class Requested(StrEnum):
    """What a request asks for."""

    LONGFORM = "longform"  # open a long-form space for the conversation now
    CONSENT = "consent"  # a participant accepts Longform's offer of a space
    SLOW_DOWN = "slow_down"  # slow the conversation down as the policy's slow mode says


@dataclass(frozen=True, slots=True)
class ModeratorRequested:
    """A moderator asked for ``action`` in ``conversation`` (a button on an alert, a command).

    ``by`` is the moderator's display name (reasons name them); ``message_id`` the message asked
    from (see the module's note on keys); ``about`` the decision whose alert was clicked, if any;
    ``title`` a moderator's own title for the space ("" for the policy's).
    """

    action: Requested
    conversation: ConversationKey
    by: str
    at: datetime
    message_id: str
    about: Decision | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class MemberRequested:
    """A member (``member``: their id; ``by``: their name) clicked ``action`` on ``about``."""

    action: Requested
    conversation: ConversationKey
    member: str
    by: str
    at: datetime
    message_id: str
    about: Decision


Request = ModeratorRequested | MemberRequested


def title(settings: LongformSettings, topic: str) -> str:
    """The policy's title of a long-form space with ``{topic}`` filled in (once, here)."""
    return settings.title.replace("{topic}", topic)


def requested_reason(by: str, what: str) -> str:
    """The reason of a decision a person asked for (``what``: what they asked)."""
    return f"Requested by {by}: {what}"


def decide(request: Request, settings: Settings) -> Decisions:
    """The decisions ``request`` makes under ``settings``; () when it asks nothing new
    (a consent to something that is not an offer, a slow down with no conversation)."""
    if request.action is Requested.SLOW_DOWN:
        return Decisions(actions=(_slow_down(request, settings),))
    if isinstance(request, MemberRequested) and request.action is Requested.CONSENT:
        accepted = _consent(request)
        return Decisions(actions=(accepted,) if accepted is not None else ())
    if isinstance(request, MemberRequested):
        return Decisions(actions=(_member_space(request, settings.longform),))
    return Decisions(actions=(_moderator_space(request, settings.longform),))


def _slow_down(request: Request, settings: Settings) -> SetSlowMode:
    about = request.about
    slow = settings.slow_mode
    signal = about.signal if about is not None else Signal.ESCALATION
    evidence = about.evidence if about is not None else Evidence((request.message_id,))
    return SetSlowMode(
        conversation=request.conversation, message_id=request.message_id, at=request.at,
        signal=signal, reason="A moderator asked to slow this conversation down.",
        evidence=evidence, seconds=slow.seconds,
        until=request.at + timedelta(minutes=slow.minutes),
    )  # fmt: skip


def _moderator_space(request: ModeratorRequested, settings: LongformSettings) -> OpenLongformSpace:
    about = request.about
    keys = about.evidence.message_ids if about is not None else ()
    return OpenLongformSpace(
        conversation=request.conversation, message_id=request.message_id, at=request.at,
        signal=Signal.ESCALATION,
        reason=f"A moderator ({request.by}) moved this conversation to a long-form space.",
        evidence=Evidence((request.message_id,)),
        title=request.title or title(settings, request.conversation.place),
        template=settings.template, participants=(), key_messages=keys or (request.message_id,),
        text=MODERATOR_OPENED, requested_by=request.by,
    )  # fmt: skip


def _member_space(request: MemberRequested, settings: LongformSettings) -> OpenLongformSpace:
    notice = request.about
    return OpenLongformSpace(
        conversation=request.conversation, message_id=request.message_id, at=request.at,
        signal=notice.signal,
        reason=requested_reason(request.by, "continue this conversation in long form."),
        evidence=notice.evidence, title=title(settings, request.conversation.place),
        template=settings.template, participants=(request.member,),
        key_messages=notice.evidence.message_ids or (notice.message_id,), text=INVITATION,
        requested_by=request.member,
    )  # fmt: skip


def _consent(request: MemberRequested) -> OpenLongformSpace | None:
    offer = request.about
    if not isinstance(offer, OpenLongformSpace):
        return None
    return replace(
        offer, message_id=request.message_id, at=request.at,
        reason=requested_reason(request.by, "accepted the offer of a long-form space."),
        participants=tuple(dict.fromkeys((*offer.participants, request.member))),
        requested_by=request.member,
    )  # fmt: skip
