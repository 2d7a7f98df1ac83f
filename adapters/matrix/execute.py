"""Core decisions -> Matrix primitives (today's ``PlatformAdapter.execute``), every outcome an
``ActionResult``.

How it works: each decision is a few calls of ``MatrixGateway``; a ``GatewayError`` becomes the
result: ``RetryLaterError`` (a 429's ``retry_after_ms``) a FAILED result with ``retry_after``, the
executor's one retry path for every platform; ``MissingPermissionError`` a moderators' note naming
the power level to grant (DOWNGRADED); ``UnresolvedError`` a final FAILED. Reactions stand in for
buttons, so each notice says which to use, and the notice's event id is remembered with its key.
"""

from __future__ import annotations

import hashlib

import structlog

from adapters.matrix.gateway import REACTIONS, MatrixGateway
from adapters.matrix.translate import Roster
from bot.core.decisions import (
    AlertModerators,
    Decision,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptMember,
    SetSlowMode,
)
from bot.core.events import ConversationKey
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
    SlowMode,
    Unreachable,
    Venue,
)
from bot.runtime.platform import ActionResult, Status

log = structlog.get_logger()
HELPFUL, WRONG, LONGFORM = "👍", "👎", "📝"
HELPFUL, WRONG, LONGFORM = (REACTIONS[k] for k in (ActionKind.HELPFUL, ActionKind.WRONG,
                                                   ActionKind.OPEN_LONGFORM))  # fmt: skip
PROMPT_NOTE = "\n(Only you see this.)"
NEUTRAL_PROMPT = ("Longform has a private note for a participant here; it could not open a "
                  "direct room with them.")  # fmt: skip


def spell_name(conversation: ConversationKey, message_id: str) -> str:
    """Where a slow mode's restore record is kept (the set and its lift name it alike)."""
    return f"matrix:slow:{conversation.community}|{conversation.place}|{message_id}"


class MatrixExecutor:
    """Carries out decisions through the gateway; never raises."""

    def __init__(self, gateway: MatrixGateway, roster: Roster) -> None:
        self.gateway, self.roster = gateway, roster
        self.notices: dict[str, str] = {}  # notice event id -> decision key (reactions)

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Carry out ``decision``; a platform error becomes the result, never an exception."""
        try:
            return await self._dispatch(decision, key)
        except RetryLaterError as error:
            return ActionResult.failed(error.detail, retry_after=error.retry_after)
        except MissingPermissionError as error:
            return await self._downgrade(decision, error, key)
        except GatewayError as error:
            return ActionResult.failed(error.detail)

    async def _dispatch(self, decision: Decision, key: str) -> ActionResult:
        if isinstance(decision, PostNotice):
            return await self._notice(decision, key)
        if isinstance(decision, PromptMember):
            return await self._prompt(decision, key)
        if isinstance(decision, SetSlowMode):
            return await self._slow(decision, key)
        if isinstance(decision, LiftSlowMode):
            return await self._lift(decision)
        if isinstance(decision, OpenLongformSpace):
            return await self._longform(decision, key)
        return await self._alert(decision, key)

    async def _notice(self, decision: PostNotice, key: str) -> ActionResult:
        kinds = [ActionKind.HELPFUL, ActionKind.WRONG, ActionKind.WHY]
        if decision.offers_longform:
            kinds.append(ActionKind.OPEN_LONGFORM)
        actions = tuple(Action(kind, key) for kind in kinds)
        place = Place.of(decision.conversation)
        notice = Notice(place, decision.text, actions, reply_to=decision.message_id)
        sent = await self.gateway.post_notice(notice, key)
        await self.remember_notice(sent.reference, key)
        return ActionResult.sent(reference=sent.reference)

    async def remember_notice(self, event: str, key: str) -> None:
        """Keep which decision a notice is about, for the reactions to it (across restarts)."""
        self.notices[event] = key
        await self.gateway.memory.remember(f"matrix:notice:{event}", key)

    async def notice_key(self, event: str) -> str | None:
        """The decision key of the notice ``event``, or None if it is not one of Longform's."""
        key = self.notices.get(event) or await self.gateway.memory.recall(f"matrix:notice:{event}")
        return key if isinstance(key, str) else None

    async def _prompt(self, decision: PromptMember, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        member = MemberRef(place.community, decision.member)
        optout = (Action(ActionKind.OPT_OUT, key),)
        sent = await self.gateway.send_private(
            Private(member, decision.text + PROMPT_NOTE, optout, origin=place), key
        )
        if isinstance(sent, Unreachable):
            notice = await self.gateway.post_notice(Notice(place, NEUTRAL_PROMPT), key)
            return ActionResult(Status.DOWNGRADED, sent.reason, None, notice.reference)
        return ActionResult.sent(reference=sent.reference)

    async def _slow(self, decision: SetSlowMode, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        authors = {self.roster.authors.get(m) for m in decision.evidence.message_ids}
        heated = tuple(MemberRef(place.community, a) for a in sorted(a for a in authors if a))
        done = await self.gateway.set_slow_mode(
            SlowMode(place, decision.seconds, decision.until, heated), key
        )
        name = spell_name(decision.conversation, decision.message_id)
        await self.gateway.memory.remember(name, done.restore)
        await self._note(place.community, f"Slow mode emulated in {place.channel} until "
                         f"{decision.until:%H:%M} UTC ({done.detail}). Why: {decision.reason}",
                         f"{key}.note")  # fmt: skip
        return ActionResult.sent(done.detail, reference=name)

    async def _lift(self, decision: LiftSlowMode) -> ActionResult:
        name = spell_name(decision.conversation, decision.message_id)
        restore = await self.gateway.memory.recall(name)
        if not isinstance(restore, str):
            return ActionResult(Status.SKIPPED, "no slow mode of Longform's is on there")
        place = Place.of(decision.conversation)
        done = await self.gateway.restore_slow_mode(place, restore)
        await self.gateway.memory.remember(name, None)
        await self._note(place.community, f"Slow mode lifted in {place.channel}: {done.detail}.",
                         _digest(name, "lift"))  # fmt: skip
        return ActionResult.sent(done.detail)

    async def _longform(self, decision: OpenLongformSpace, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        venue = Venue(place, decision.title, decision.text, decision.template,
                      tuple(MessageRef(place, m) for m in decision.key_messages),
                      tuple(MemberRef(place.community, p) for p in decision.participants))  # fmt: skip
        opened = await self.gateway.open_venue(venue, key)
        origin = MessageRef(place, decision.message_id)
        await self.gateway.reply(origin, f"The discussion continues in long form: {opened.link}",
                                 f"{key}.link")  # fmt: skip
        return ActionResult.sent(opened.detail, reference=opened.reference)

    async def _alert(self, decision: AlertModerators, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        text = f"{decision.text}\nWhy: {decision.reason}"
        evidence = tuple(MessageRef(place, m) for m in decision.evidence.message_ids)
        sent = await self.gateway.alert_moderators(
            Alert(place.community, text, place, evidence), key
        )
        return ActionResult.sent(reference=sent.reference)

    async def _note(self, community: CommunityRef, text: str, txn: str) -> None:
        """A note to the moderators that must not fail the action it reports on."""
        try:
            await self.gateway.alert_moderators(Alert(community, text), txn)
        except GatewayError as error:
            log.warning("moderator_note_failed", community=community.key, problem=error.detail)

    async def _downgrade(
        self, decision: Decision, error: MissingPermissionError, key: str
    ) -> ActionResult:
        community = Place.of(decision.conversation).community
        text = (f"Longform could not {error.action}: give its user the {error.permission} in that "
                f"room. Why it wanted to: {decision.reason}")  # fmt: skip
        try:
            await self.gateway.alert_moderators(Alert(community, text), f"{key}.missing")
        except RetryLaterError as again:
            return ActionResult.failed(again.detail, retry_after=again.retry_after)
        except GatewayError as failed:
            return ActionResult.failed(f"{error.detail}; and {failed.detail}")
        return ActionResult(Status.DOWNGRADED, error.detail)

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        """The daily digest, in the moderators' room."""
        try:
            sent = await self.gateway.alert_moderators(
                Alert(CommunityRef.parse(community), text), _digest(community, text)
            )
        except RetryLaterError as error:
            return ActionResult.failed(error.detail, retry_after=error.retry_after)
        except GatewayError as error:
            return ActionResult.failed(error.detail)
        return ActionResult.sent(reference=sent.reference)

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        """A reminder in the long-form room ``reference``."""
        try:
            sent = await self.gateway.post_in_venue(CommunityRef.parse(community), reference, text)
        except RetryLaterError as error:
            return ActionResult.failed(error.detail, retry_after=error.retry_after)
        except GatewayError as error:
            return ActionResult.failed(error.detail)
        return ActionResult.sent(reference=sent.reference)


def _digest(*parts: str) -> str:
    """A stable transaction id for a send that has no decision key of its own."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
