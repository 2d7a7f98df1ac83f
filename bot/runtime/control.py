"""What adapters may ask of the running service: explanations, feedback, opt-outs, mode, policy,
dashboard sign-in links, and what people ask for (``ask``: the core decides what it means). One seam, so that platform code never reaches into storage.

Buttons and commands carry a decision's idempotency key (32 hex characters, short enough for a
Telegram callback) and come back here with it. Every method is safe to call from the event loop
(storage work runs in a thread) and raises ``ControlError`` with a message fit to show the member
or moderator who asked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from bot.core.decisions import Decision, Decisions, UndoActions
from bot.core.requests import (
    Answer,
    Explanation,
    MemberRequested,
    ModeratorRequested,
    Request,
    Requested,
    answer,
    decide,
    explain,
)
from bot.core.settings import Settings
from bot.runtime.gateway import CommunityRef
from bot.runtime.reload import reload_policies
from bot.runtime.service import Runtime
from bot.runtime.undo import record_undone, stored_decision
from bot.storage.codec import decision_key
from bot.storage.schema import OutboxState, Verdict

MODES = ("shadow", "live")
UNDO_WAIT = 40.0  # seconds a moderator's undo waits to be carried out (one attempt and its margin)
_UNDO_POLL = 0.05  # seconds between looks at the outbox while waiting


class ControlError(ValueError):
    """A request that cannot be done; the message can be shown to whoever asked."""


@dataclass
class Control:
    """The runtime's controls, as adapters see them."""

    runtime: Runtime

    def settings(self, community: str, channel: str) -> Settings:
        """The effective policy settings in ``channel`` of ``community``."""
        key = self.runtime.community(community).engine_key
        return self.runtime.policies[key].for_channel(channel)

    def mode(self, community: str) -> str:
        """``shadow`` or ``live``: what the service does in ``community`` now."""
        return self.runtime.community(community).mode

    def now(self) -> datetime:
        """The service's clock (UTC)."""
        return self.runtime.clock()

    async def remember(self, name: str, value: object) -> None:
        """Keep a JSON value across restarts (an adapter's own state, e.g. slow modes it set)."""
        await asyncio.to_thread(self.runtime.store.states.save, f"adapter:{name}", value,
                                version=1, now=self.runtime.clock())  # fmt: skip

    async def recall(self, name: str) -> object:
        """What ``remember`` kept under ``name``, or None."""
        stored = await asyncio.to_thread(self.runtime.store.states.load, f"adapter:{name}")
        return None if stored is None else stored.blob

    async def decision(self, key: str) -> Decision:
        """The decision stored under ``key``."""
        found = await asyncio.to_thread(stored_decision, self.runtime.store, key)
        if found is None:
            raise ControlError("This notice is too old: Longform no longer has its details.")
        return found

    async def explain(self, key: str) -> Explanation:
        """Why the decision ``key`` was made."""
        return explain(await self.decision(key))

    async def explain_message(self, platform: str, message_id: str) -> Explanation | None:
        """Why Longform acted on a message (``/why`` in reply to it), or None if it did not."""
        entries = await asyncio.to_thread(
            self.runtime.store.audit.entries, message_id=message_id, limit=50
        )
        mine = [e for e in entries if e.platform == platform]
        if not mine:
            return None
        entry = mine[-1]
        return Explanation(entry.reason, entry.signal, (entry.message_id,), ())

    async def feedback(self, platform: str, key: str, helpful: bool, by: str) -> None:
        """Record a member's or moderator's verdict on decision ``key``."""
        decision = await self.decision(key)
        verdict = Verdict.HELPFUL if helpful else Verdict.WRONG
        now = self.runtime.clock()
        await asyncio.to_thread(self.runtime.store.feedback.add, platform, str(decision.signal),
                                verdict, by=by, at=now, message_id=decision.message_id,
                                community=decision.conversation.community)  # fmt: skip

    async def acknowledge(self, platform: str, key: str) -> None:
        """A moderator acknowledged the alert ``key``: its time to acknowledgement is kept (the
        first press only) for ``longform outcomes``."""
        await asyncio.to_thread(self.runtime.store.outcomes.acknowledge, key,
                                by_platform=platform, at=self.runtime.clock())  # fmt: skip

    async def set_opt_out(
        self, platform: str, community: str, member: str, opted_out: bool = True
    ) -> None:
        """A member opts out of (or back into) private prompts in ``community`` ("" for all)."""
        raw = CommunityRef.of(community).id if ":" in community else community
        await asyncio.to_thread(self.runtime.store.prefs.set_opt_out, platform, raw, member,
                                opted_out, now=self.runtime.clock())  # fmt: skip

    async def status(self, community: str) -> str:
        """A one-paragraph status for ``/longform status``."""
        served = self.runtime.community(community)
        policy = self.runtime.policies[served.engine_key]
        size = self.runtime.engines[served.engine_key].size
        return (f"Longform is in {served.mode} mode with the '{policy.name}' policy. It is following "
                f"{size['conversations']} conversations and {size['messages']} recent messages."
                + experiment_text(policy.experiment.holdback))  # fmt: skip

    async def set_mode(self, community: str, mode: str) -> str:
        """Switch ``community`` to shadow or live mode (kept across restarts)."""
        if mode not in MODES:
            raise ControlError(f"Mode must be one of {', '.join(MODES)}, not {mode!r}.")
        await asyncio.to_thread(self.runtime.set_mode, community, mode)
        return f"Longform is now in {mode} mode here."

    async def policy_summary(self, community: str) -> str:
        """The policy in force: name, mode, and the thresholds that matter most."""
        served = self.runtime.community(community)
        policy = self.runtime.policies[served.engine_key]
        settings = policy.settings
        return (f"Policy '{policy.name}' ({served.mode} mode): ad hominem noticed from "
                f"{settings.ad_hominem.detect_at:.2f}; a pile-on needs {settings.pile_on.min_authors} "
                f"members within {settings.pile_on.window_minutes:g} minutes; one private prompt per "
                f"member per thread every {settings.cooldowns.prompt_hours:g} hours.")  # fmt: skip

    async def reload_policy(self) -> list[str]:
        """Reload the policies from the config; the problems, or [] if reloaded."""
        return await asyncio.to_thread(reload_policies, self.runtime)

    async def dashboard_link(
        self, platform: str, member: str, communities: list[str], name: str = ""
    ) -> str:
        """A one-time sign-in link to the dashboard for ``member``, who moderates
        ``communities`` (as the platform says); only served communities count."""
        section = self.runtime.config.dashboard
        if not section.enabled:
            raise ControlError("The dashboard is not enabled: the operator can turn it on with "
                               "[dashboard] enabled = true in Longform's config.")  # fmt: skip
        served = [c for c in communities if self._served(c)]
        if not served:
            raise ControlError("Only moderators of a community Longform serves can open the "
                               "dashboard.")  # fmt: skip
        token = await asyncio.to_thread(self.runtime.store.signins.issue, platform, member,
                                        served, now=self.runtime.clock(), name=name)  # fmt: skip
        return f"{section.base_url}/signin?token={token}"

    def _served(self, community: str) -> bool:
        ref = CommunityRef.of(community)
        return self.runtime.config.community(ref.platform, ref.id) is not None

    async def ask(self, request: Request) -> Decisions:
        """A person's request (open long form, consent, slow down): the core decides what it
        means under the channel's settings, and the decisions go to the outbox (shadow mode does
        not hold back what a person asked for). Returns the decisions, () if it asked nothing."""
        conversation = request.conversation
        decisions = decide(request, self.settings(conversation.community, conversation.channel))
        if decisions.actions:
            key = self.runtime.community(conversation.community).engine_key
            await self.runtime.submit(decisions, key, moderator=True)
        return decisions

    async def answer(self, request: MemberRequested) -> Answer:
        """A member's "why", opt-out or opt-in: the core says what it means; a preference it
        changes is recorded here. The platform words the reply (its own command syntax)."""
        answered = answer(request)
        if answered.opt_out is not None:
            choice = answered.opt_out
            await self.set_opt_out(CommunityRef.of(request.conversation.community).platform,
                                   choice.scope, choice.member, choice.opted_out)  # fmt: skip
        return answered

    async def undo(self, request: ModeratorRequested, within: float = UNDO_WAIT) -> str:
        """A moderator's undo: the core decides it (``UndoActions``), the outbox carries it out
        through the platform's pipeline, and this waits for it; what was done, in words.
        Raises ControlError when there is nothing to undo or it is not done within ``within``
        seconds (it stays in the outbox and is still carried out)."""
        if request.action is not Requested.UNDO:
            raise ValueError(f"undo() takes an undo request, not {request.action}")
        decisions = await self.ask(request)
        undos = [a for a in decisions.actions if isinstance(a, UndoActions)]
        if not undos:
            raise ControlError("There is nothing of Longform's to undo there.")
        platform = CommunityRef.of(undos[0].conversation.community).platform
        return await self._carried_out(decision_key(undos[0], platform), within)

    async def _carried_out(self, key: str, within: float) -> str:
        """Wait until outbox item ``key`` is done; its audit detail (what was done)."""
        store = self.runtime.store
        try:
            async with asyncio.timeout(within):
                while True:
                    item = await asyncio.to_thread(store.outbox.get, key)
                    state = item.state if item is not None else None
                    if state is OutboxState.DONE:
                        entries = await asyncio.to_thread(store.audit.entries, decision_key=key)
                        return entries[-1].detail if entries else ""
                    if item is not None and state in (OutboxState.FAILED, OutboxState.EXPIRED):
                        problem = item.last_error or str(state)
                        raise ControlError(f"Longform could not undo it: {problem}.")
                    await asyncio.sleep(_UNDO_POLL)
        except TimeoutError:
            raise ControlError(
                "The undo is queued but not done yet (the platform is slow or unreachable); it "
                "will be, and the audit will say so."
            ) from None

    async def record_undone(self, key: str, by: str, detail: str = "") -> None:
        """Record in the audit that a moderator undid decision ``key``."""
        if not await asyncio.to_thread(record_undone, self.runtime, key, by, detail):
            raise ControlError("This notice is too old: Longform no longer has its details.")


def experiment_text(holdback: float) -> str:
    """What moderators are told of the built-in experiment (members never are)."""
    if holdback <= 0:
        return " No interventions are held back (no control group; `[experiment] holdback`)."
    return (f" Experiment: {holdback:.0%} of eligible interventions are held back as a control "
            "group (recorded, not sent; alerts and moderator requests never are); "
            "`longform outcomes` compares the two.")  # fmt: skip
