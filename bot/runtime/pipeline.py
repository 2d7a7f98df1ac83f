"""One execution pipeline: a core decision -> a platform's gateway primitives -> an ActionResult.

How it works: the executor claims an item from the outbox and hands it to its platform's adapter;
an adapter built on a ``Gateway`` hands it on to ``Pipeline.execute``, which dispatches by the
decision's type to a few primitives and turns what they raise into the result the executor
records and retries:

- ``RetryLaterError`` -> FAILED with its ``retry_after`` (a 429, ``M_LIMIT_EXCEEDED``, a timeout);
- ``MissingPermissionError`` -> the moderators are alerted with the right to grant: DOWNGRADED;
- ``UnresolvedError`` and any other ``GatewayError`` -> FAILED for good;
- ``Unreachable`` from a private message -> a neutral public note whose button shows it: DOWNGRADED.

Idempotency is the outbox's key alone: every primitive that creates something is one named
*step* of its decision, and the step's ``Sent.reference`` is recorded (``StepStore``) before the
next begins, so a retry, or a restart after a crash, resumes after the last step done instead of
posting twice; a gateway keeps no ``done`` dict of its own. A slow mode's step holds what to
restore, so its lift restores exactly that. What is withheld before anything is sent (shadow
mode, opt-outs) is the short list of ``checks``, each ``decision -> Outcome | None``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from bot.core.decisions import (
    AlertModerators,
    Decision,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptMember,
    SetSlowMode,
    UndoActions,
)
from bot.core.holdback import held_back
from bot.core.settings import LongformSettings, Settings
from bot.runtime.gateway import (
    Action,
    ActionKind,
    Alert,
    CommunityRef,
    Gateway,
    GatewayError,
    MemberRef,
    MessageRef,
    MissingPermissionError,
    Notice,
    Place,
    Private,
    RetryLaterError,
    Sent,
    SlowMode,
    Step,
    Steps,
    Unreachable,
    UnresolvedError,
    Venue,
)
from bot.runtime.platform import ActionResult, Status
from bot.storage.codec import decision_key
from bot.storage.schema import Outcome

NEUTRAL_NOTE = (
    "Longform has a short private note for one member of this conversation; it shows only to them."
)
CONSENT_OFFER = (
    "This conversation could continue in a long-form space, where each side can set out their "
    "view at their own pace. A participant can accept below."
)
CONTINUES = "This conversation continues in long form: {link}"
_TOKEN = re.compile(r"[@!#]?[\w.:=-]*\w")

_DONE = "done:"  # the step that records a whole decision as done, with its status
Check = Callable[[Decision], Outcome | None]
SettingsOf = Callable[[str, str], Settings]  # (community, channel) -> the effective settings


class StepStore(Protocol):
    """Where the steps of each decision are kept, by its outbox key (across restarts)."""

    async def load(self, key: str) -> Steps:
        """The steps of ``key`` done so far (none if it never started)."""
        ...

    async def save(self, key: str, steps: Steps) -> None:
        """Record ``steps`` as what ``key`` has done."""
        ...


@dataclass
class MemorySteps:
    """Steps kept in memory: for one process (a replay, a test); not across a restart."""

    kept: dict[str, Steps] = field(default_factory=dict)

    async def load(self, key: str) -> Steps:
        return self.kept.get(key, Steps())

    async def save(self, key: str, steps: Steps) -> None:
        self.kept[key] = steps


def setting_key(lift: LiftSlowMode, platform: str) -> str:
    """The outbox key of the slow mode ``lift`` lifts (the same conversation, message, signal)."""
    setting = SetSlowMode(lift.conversation, lift.message_id, lift.at, lift.signal, lift.reason,
                          lift.evidence, seconds=1, until=lift.at)  # fmt: skip
    return decision_key(setting, platform)


async def recorded(steps: StepStore, key: str) -> ActionResult | None:
    """The result recorded for ``key`` once it was done (``record``), or None: a retry of a
    decision done before gets its result back instead of acting twice."""
    for step in (await steps.load(key)).done:
        if step.name.startswith(_DONE):
            return ActionResult(Status(step.name.removeprefix(_DONE)), step.detail, None,
                                step.reference)  # fmt: skip
    return None


async def record(steps: StepStore, key: str, result: ActionResult) -> None:
    """Record that ``key`` is done (sent or downgraded) with ``result``'s reference."""
    if result.status in (Status.SENT, Status.DOWNGRADED):
        done = await steps.load(key)
        step = Step(_DONE + str(result.status), result.reference, detail=result.detail)
        await steps.save(key, done.plus(step))


def withheld(checks: Sequence[Check], decision: Decision) -> Outcome | None:
    """The outcome of the first check that holds ``decision`` back, or None to send it."""
    for check in checks:
        outcome = check(decision)
        if outcome is not None:
            return outcome
    return None


def shadow_check(mode_of: Callable[[str], str]) -> Check:
    """In shadow mode only moderator alerts go out; the rest is recorded as suppressed."""

    def check(decision: Decision) -> Outcome | None:
        shadow = mode_of(decision.conversation.community) == "shadow"
        return (
            Outcome.SUPPRESSED_SHADOW
            if shadow and not isinstance(decision, AlertModerators)
            else None
        )

    return check


def holdback_check(share: float, salt: str) -> Check:
    """The experiment's control group (issue 17): ``share`` of the eligible decisions is recorded
    as held back instead of sent, chosen by ``bot.core.holdback`` (deterministic, never alerts or
    moderators' requests)."""

    def check(decision: Decision) -> Outcome | None:
        return Outcome.HELD_BACK if held_back(decision, share, salt) else None

    return check


def opt_out_check(opted_out: Callable[[str, str, str], bool]) -> Check:
    """A private prompt to a member who opted out (platform, community id, member) is not sent."""

    def check(decision: Decision) -> Outcome | None:
        if not isinstance(decision, PromptMember):
            return None
        community = CommunityRef.parse(decision.conversation.community)
        return (
            Outcome.OPTED_OUT
            if opted_out(community.platform, community.id, decision.member)
            else None
        )

    return check


def _result(sent: Sent | Step, detail: str = "") -> ActionResult:
    return ActionResult.sent(detail or getattr(sent, "detail", ""), sent.reference)


@dataclass
class Pipeline:
    """Executes decisions through one platform's gateway. Never raises a GatewayError."""

    gateway: Gateway
    steps: StepStore = field(default_factory=MemorySteps)
    settings_of: SettingsOf | None = None

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Carry out ``decision`` (outbox key ``key``); platform trouble becomes the result."""
        try:
            return await self._dispatch(decision, key)
        except MissingPermissionError as missing:
            if isinstance(decision, AlertModerators):
                return ActionResult.failed(f"moderators' channel: {missing.detail}")
            return await self._downgrade(decision, key, missing)
        except RetryLaterError as error:
            return ActionResult.failed(error.detail, error.retry_after)
        except GatewayError as error:  # UnresolvedError and the rest: trying again will not help
            return ActionResult.failed(error.detail)

    async def _dispatch(self, decision: Decision, key: str) -> ActionResult:
        if isinstance(decision, PostNotice):
            return await self._notice(decision, key)
        if isinstance(decision, PromptMember):
            return await self._prompt(decision, key)
        if isinstance(decision, SetSlowMode):
            return await self._slow_mode(decision, key)
        if isinstance(decision, LiftSlowMode):
            return await self._lift(decision, key)
        if isinstance(decision, OpenLongformSpace):
            return await self._longform(decision, key)
        if isinstance(decision, UndoActions):
            return await self._undo(decision, key)
        return await self._alert(decision, key)

    # -- steps and names ------------------------------------------------------------------------

    async def step(self, key: str, name: str, work: Callable[[], Awaitable[Sent]]) -> Step:
        """Step ``name`` of decision ``key``: done once; a retry gets the recorded step back."""
        steps = await self.steps.load(key)
        done = steps.get(name)
        if done is not None:
            return done
        sent = await work()
        step = Step(name, sent.reference, sent.link, sent.detail)
        await self.steps.save(key, steps.plus(step))
        return step

    async def readable(self, community: CommunityRef, text: str) -> str:
        """``text`` with the ids the gateway knows replaced by names."""
        # Ids have digits (Discord, Telegram) or a sigil (Matrix's @user:server, !room:server).
        found = (t for t in _TOKEN.findall(text) if t[0] in "@!#" or any(c.isdigit() for c in t))
        tokens = tuple(dict.fromkeys(found))
        if not tokens:
            return text
        names = await self.gateway.resolve_names(community, tokens)
        if not names:
            return text
        # Whole tokens only, and never inside a link's path: "12" must not rewrite "123" or the
        # channel id in https://discord.com/channels/1/12/.
        alternatives = "|".join(re.escape(t) for t in sorted(names, key=len, reverse=True))
        pattern = re.compile(rf"(?<![\w./:=-])(?:{alternatives})(?![\w/=-])")
        return pattern.sub(lambda found: names[found.group(0)], text)

    def _longform_settings(self, decision: Decision) -> LongformSettings:
        if self.settings_of is None:
            return LongformSettings()
        conversation = decision.conversation
        return self.settings_of(conversation.community, conversation.channel).longform

    # -- one decision type each -----------------------------------------------------------------

    async def _notice(self, decision: PostNotice, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        actions = [Action(ActionKind.WHY, key), Action(ActionKind.WRONG, key)]
        if decision.offers_longform:
            actions.append(Action(ActionKind.OPEN_LONGFORM, key))
        text = await self.readable(place.community, decision.text)
        notice = Notice(place, text, tuple(actions), reply_to=decision.message_id)
        return _result(
            await self.step(key, "notice", lambda: self.gateway.post_notice(notice, key))
        )

    async def _prompt(self, decision: PromptMember, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        text = await self.readable(place.community, decision.text)
        private = Private(MemberRef(place.community, decision.member), text,
                          (Action(ActionKind.WHY, key), Action(ActionKind.OPT_OUT, key)), place)  # fmt: skip
        steps = await self.steps.load(key)
        done = steps.get("private") or steps.get("note")
        if done is not None:
            return ActionResult(Status.SENT if done.name == "private" else Status.DOWNGRADED,
                                "done before", None, done.reference)  # fmt: skip
        answer = await self.gateway.send_private(private, key)
        if isinstance(answer, Sent):
            await self.steps.save(key, steps.plus(Step("private", answer.reference, answer.link)))
            return _result(answer, "private prompt")
        return await self._note_in_public(place, decision, key, answer)

    async def _note_in_public(
        self, place: Place, decision: PromptMember, key: str, why: Unreachable
    ) -> ActionResult:
        notice = Notice(place, NEUTRAL_NOTE, (Action(ActionKind.SHOW_NOTE, key),),
                        reply_to=decision.message_id)  # fmt: skip
        step = await self.step(key, "note", lambda: self.gateway.post_notice(notice, f"{key}.note"))
        detail = f"{why.reason}: a neutral public note {step.reference}, the prompt shown on click"
        return ActionResult(Status.DOWNGRADED, detail, None, step.reference)

    async def _slow_mode(self, decision: SetSlowMode, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        reason = await self.readable(place.community, decision.reason)
        evidence = tuple(MessageRef(place, m) for m in decision.evidence.message_ids)
        slow = SlowMode(place, decision.seconds, decision.until, reason=reason, evidence=evidence)
        steps = await self.steps.load(key)
        done = steps.get("slow")
        if done is None:
            set_ = await self.gateway.set_slow_mode(slow, key)
            how = "asked" if set_.asked else "emulated" if set_.emulated else ""
            done = Step("slow", set_.restore, how, set_.detail)
            await self.steps.save(key, steps.plus(done))
        detail = done.detail or f"slow mode {decision.seconds} s"
        if done.link == "asked":  # only the moderators could set it: they were asked to
            return ActionResult(Status.DOWNGRADED, detail, None, place.id)
        return ActionResult.sent(detail, place.id)

    async def _lift(self, decision: LiftSlowMode, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        set_key = setting_key(decision, place.community.platform)
        setting = await self.steps.load(set_key)
        was_set = setting.get("slow")
        if was_set is None:
            return ActionResult(Status.SKIPPED, "no slow mode of Longform's is on there")
        lifted = (await self.steps.load(key)).get("lift")
        if lifted is None and setting.get("lifted") is not None:  # another lift did it already
            return ActionResult(Status.SKIPPED, "the slow mode was lifted already")
        restore = was_set.reference
        step = await self.step(key, "lift", lambda: self.gateway.restore_slow_mode(place, restore))
        if setting.get("lifted") is None:
            await self.steps.save(set_key, setting.plus(Step("lifted", step.reference)))
        return _result(step, step.detail or "slow mode lifted")

    async def _longform(self, decision: OpenLongformSpace, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        settings = self._longform_settings(decision)
        if settings.ask_consent and not decision.requested_by:
            offer = Notice(place, CONSENT_OFFER, (Action(ActionKind.CONSENT, key),),
                           reply_to=decision.message_id)  # fmt: skip
            await self.step(key, "offer", lambda: self.gateway.post_notice(offer, f"{key}.offer"))
            return ActionResult.sent("offered; opens when a participant accepts")  # no reference
        venue = Venue(
            origin=place, title=await self.readable(place.community, decision.title),
            intro=await self.readable(place.community, decision.text), template=decision.template,
            quotes=tuple(MessageRef(place, m) for m in decision.key_messages),
            participants=tuple(MemberRef(place.community, p) for p in decision.participants),
            slow_mode_seconds=settings.slow_mode_seconds, tags=settings.tags,
            started_from=decision.message_id,
        )  # fmt: skip
        opened = await self.step(key, "venue", lambda: self.gateway.open_venue(venue, key))
        origin = MessageRef(place, decision.message_id)
        link = CONTINUES.format(link=opened.link or opened.reference)
        await self.step(key, "link", lambda: self.gateway.reply(origin, link, f"{key}.link"))
        return _result(opened, f"long form {opened.reference}")

    async def _undo(self, decision: UndoActions, key: str) -> ActionResult:
        place = Place.of(decision.conversation)
        step = await self.step(key, "undo", lambda: self.gateway.undo_actions(place, key))
        return _result(step, step.detail or "undone")

    async def _alert(self, decision: AlertModerators, key: str) -> ActionResult:
        alert = await self._alert_of(decision, key, decision.text)
        if decision.text and decision.reason:  # the summary, and why on its own
            why = await self.readable(alert.community, decision.reason)
            alert = replace(alert, reason=why)
        return _result(
            await self.step(key, "alert", lambda: self.gateway.alert_moderators(alert, key))
        )

    async def _alert_of(self, decision: Decision, key: str, text: str) -> Alert:
        place = Place.of(decision.conversation)
        actions = tuple(Action(kind, key) for kind in (ActionKind.ACKNOWLEDGE, ActionKind.WRONG,
                        ActionKind.MOVE, ActionKind.SLOW_DOWN, ActionKind.UNDO))  # fmt: skip
        body = await self.readable(place.community, text or decision.reason)
        evidence = tuple(MessageRef(place, m) for m in decision.evidence.message_ids)
        return Alert(place.community, body, place, evidence, actions)

    async def _downgrade(
        self, decision: Decision, key: str, missing: MissingPermissionError
    ) -> ActionResult:
        """Tell the moderators what could not be done and which right to grant."""
        text = (f"Longform could not {missing.action} in {decision.conversation.place}: "
                f"{missing.detail}. Grant it, or act yourselves. Why it wanted to: {decision.reason}")  # fmt: skip
        try:
            alert = await self._alert_of(decision, key, text)
            why = await self.readable(alert.community, decision.reason)
            alert = replace(alert, reason=why, could_not=missing.action, problem=missing.detail)
            await self.step(key, "downgraded",
                            lambda: self.gateway.alert_moderators(alert, f"{key}.downgraded"))  # fmt: skip
        except RetryLaterError as error:
            return ActionResult.failed(error.detail, error.retry_after)
        except GatewayError as error:
            return ActionResult.failed(f"{missing.detail}; and the moderators: {error.detail}")
        return ActionResult(Status.DOWNGRADED, str(missing.detail))


__all__ = [
    "Check", "MemorySteps", "Pipeline", "StepStore", "UnresolvedError", "record", "recorded",
    "withheld",
]  # fmt: skip
