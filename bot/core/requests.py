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

An undo is a decision like the others (``UndoActions``, keyed by the alert it was asked from).
"Why" and opt-outs act on no conversation: ``answer`` says what they mean (the explanation a
member reads, the preference to record), and the runtime's ``Control`` records it; each platform
words the confirmation with its own command syntax. Feedback and mode stay calls of ``Control``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.decisions import (
    Decision,
    Decisions,
    Evidence,
    OpenLongformSpace,
    SetSlowMode,
    Signal,
    UndoActions,
)
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
    UNDO = "undo"  # a moderator undoes what Longform did in the conversation
    WHY = "why"  # a member asks why Longform acted
    OPT_OUT = "opt_out"  # a member wants no more private prompts (in ``scope``)
    OPT_IN = "opt_in"  # a member wants private prompts again (in ``scope``)


# Requests that act on a conversation (and so go to the outbox) and those that are answered.
ACTING = frozenset({Requested.LONGFORM, Requested.CONSENT, Requested.SLOW_DOWN, Requested.UNDO})
ANSWERED = frozenset({Requested.WHY, Requested.OPT_OUT, Requested.OPT_IN})


@dataclass(frozen=True, slots=True)
class ModeratorRequested:
    """A moderator asked for ``action`` in ``conversation`` (a button on an alert, a command).

    ``by`` is the moderator's display name (reasons name them); ``message_id`` the message asked
    from (see the module's note on keys); ``about`` the decision whose alert was clicked, if any;
    ``title`` a moderator's own title for the space ("" for the policy's); ``about_key`` the
    outbox key of ``about`` (an undo names it in the audit).
    """

    action: Requested
    conversation: ConversationKey
    by: str
    at: datetime
    message_id: str
    about: Decision | None = None
    title: str = ""
    about_key: str = ""


@dataclass(frozen=True, slots=True)
class MemberRequested:
    """A member (``member``: their id; ``by``: their name) asked for ``action``: a button on
    ``about`` (the notice or prompt clicked), or a command (``about`` None when it names no
    decision). ``scope`` is the community an opt-out covers ("" for every community)."""

    action: Requested
    conversation: ConversationKey
    member: str
    by: str
    at: datetime
    message_id: str
    about: Decision | None = None
    scope: str = ""


Request = ModeratorRequested | MemberRequested


def title(settings: LongformSettings, topic: str) -> str:
    """The policy's title of a long-form space with ``{topic}`` filled in (once, here)."""
    return settings.title.replace("{topic}", topic)


def requested_reason(by: str, what: str) -> str:
    """The reason of a decision a person asked for (``what``: what they asked)."""
    return f"Requested by {by}: {what}"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a decision was made, in words a member would accept, and what it rests on."""

    reason: str
    signal: str
    evidence: tuple[str, ...]  # message ids
    scores: tuple[tuple[str, float], ...]

    def text(self, max_messages: int = 5) -> str:
        """One short paragraph: the reason, the messages it rests on, the strongest scores."""
        shown = ", ".join(self.evidence[:max_messages])
        extra = len(self.evidence) - max_messages
        more = f" and {extra} more" if extra > 0 else ""
        scores = ", ".join(f"{name} {value:.2f}" for name, value in self.scores[:3])
        parts = [self.reason, f"Messages considered: {shown}{more}." if shown else ""]
        if scores:
            parts.append(f"Scores: {scores}.")
        parts.append("Longform never removes anything; moderators decide.")
        return " ".join(part for part in parts if part)


@dataclass(frozen=True, slots=True)
class OptOut:
    """A member's preference for private prompts: none (``opted_out``) or again, in ``scope``."""

    member: str
    scope: str  # a community key, or "" for every community
    opted_out: bool


@dataclass(frozen=True, slots=True)
class Answer:
    """What an answered request means: the explanation the member reads (why), or the
    preference the runtime records (opt-out, opt-in)."""

    request: MemberRequested
    explanation: Explanation | None = None
    opt_out: OptOut | None = None


def explain(decision: Decision) -> Explanation:
    """Why ``decision`` was made, as a member reads it."""
    evidence = decision.evidence
    return Explanation(decision.reason, str(decision.signal), evidence.message_ids,
                       evidence.scores)  # fmt: skip


def answer(request: MemberRequested) -> Answer:
    """What a "why", opt-out or opt-in means. A "why" about no decision explains nothing
    (``explanation`` None: the platform says Longform did not act on it)."""
    if request.action is Requested.WHY:
        about = request.about
        return Answer(request, explanation=explain(about) if about is not None else None)
    if request.action in (Requested.OPT_OUT, Requested.OPT_IN):
        wants_none = request.action is Requested.OPT_OUT
        return Answer(request, opt_out=OptOut(request.member, request.scope, wants_none))
    raise ValueError(f"{request.action} acts on a conversation: decide() it, do not answer() it")


def decide(request: Request, settings: Settings) -> Decisions:
    """The decisions ``request`` makes under ``settings``; () when it asks nothing new
    (a consent to something that is not an offer, an undo from no decision) or acts on no
    conversation (why, opt-out: see ``answer``)."""
    if request.action in ANSWERED:
        return Decisions()
    if request.action is Requested.SLOW_DOWN:
        return Decisions(actions=(_slow_down(request, settings),))
    if request.action is Requested.UNDO:
        undo = _undo(request) if isinstance(request, ModeratorRequested) else None
        return Decisions(actions=(undo,) if undo is not None else ())
    if isinstance(request, MemberRequested) and request.action is Requested.CONSENT:
        accepted = _consent(request)
        return Decisions(actions=(accepted,) if accepted is not None else ())
    if isinstance(request, MemberRequested):
        space = _member_space(request, settings.longform)
        return Decisions(actions=(space,) if space is not None else ())
    return Decisions(actions=(_moderator_space(request, settings.longform),))


def _undo(request: ModeratorRequested) -> UndoActions | None:
    about = request.about
    if about is None:
        return None
    return UndoActions(
        conversation=about.conversation, message_id=request.message_id, at=request.at,
        signal=about.signal,
        reason=f"A moderator ({request.by}) undid what Longform did in this conversation.",
        evidence=about.evidence, undone=request.about_key, by=request.by,
    )  # fmt: skip


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


def _member_space(request: MemberRequested, settings: LongformSettings) -> OpenLongformSpace | None:
    notice = request.about
    if notice is None:  # asked from no notice of Longform's: nothing to continue
        return None
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
