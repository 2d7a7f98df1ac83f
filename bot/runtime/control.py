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

from bot.core.decisions import AlertModerators, Decision, Decisions, Evidence, Signal
from bot.core.events import ConversationKey
from bot.core.requests import Request, decide
from bot.core.settings import Settings
from bot.runtime.gateway import CommunityRef
from bot.runtime.reload import reload_policies
from bot.runtime.service import Runtime
from bot.storage.audit import AuditEntry
from bot.storage.schema import Outcome, Verdict

MODES = ("shadow", "live")


class ControlError(ValueError):
    """A request that cannot be done; the message can be shown to whoever asked."""


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
        more = (
            f" and {len(self.evidence) - max_messages} more"
            if len(self.evidence) > max_messages
            else ""
        )
        scores = ", ".join(f"{name} {value:.2f}" for name, value in self.scores[:3])
        parts = [self.reason, f"Messages considered: {shown}{more}." if shown else ""]
        if scores:
            parts.append(f"Scores: {scores}.")
        parts.append("Longform never removes anything; moderators decide.")
        return " ".join(part for part in parts if part)


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
        item = await asyncio.to_thread(self.runtime.store.outbox.get, key)
        if item is None:
            entries = await asyncio.to_thread(
                self.runtime.store.audit.entries, decision_key=key, limit=1
            )
            if not entries:
                raise ControlError("This notice is too old: Longform no longer has its details.")
            return _from_audit(entries[0])
        return item.decision

    async def explain(self, key: str) -> Explanation:
        """Why the decision ``key`` was made."""
        decision = await self.decision(key)
        return Explanation(decision.reason, str(decision.signal), decision.evidence.message_ids,
                           decision.evidence.scores)  # fmt: skip

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

    async def record_undone(self, key: str, by: str, detail: str = "") -> None:
        """Record in the audit that a moderator undid decision ``key``."""
        decision = await self.decision(key)
        engine_key = self.runtime.community(decision.conversation.community).engine_key
        platform = CommunityRef.of(decision.conversation.community).platform
        provenance = self.runtime.provenance(platform, engine_key, decision.conversation.community)
        entry = AuditEntry.of(decision, Outcome.UNDONE, at=self.runtime.clock(), provenance=provenance,
                              detail=f"undone by {by}. {detail}".strip(), decision_key=key)  # fmt: skip
        await asyncio.to_thread(self.runtime.store.audit.append, entry)


def experiment_text(holdback: float) -> str:
    """What moderators are told of the built-in experiment (members never are)."""
    if holdback <= 0:
        return " No interventions are held back (no control group; `[experiment] holdback`)."
    return (f" Experiment: {holdback:.0%} of eligible interventions are held back as a control "
            "group (recorded, not sent; alerts and moderator requests never are); "
            "`longform outcomes` compares the two.")  # fmt: skip


def _from_audit(entry: AuditEntry) -> Decision:
    # Old decisions survive only as audit lines: enough to explain them, not to act on them.
    ids = entry.evidence.get("message_ids", ()) if isinstance(entry.evidence, dict) else ()
    return AlertModerators(
        conversation=ConversationKey(entry.community, entry.channel, entry.thread),
        message_id=entry.message_id, at=entry.at, signal=Signal(entry.signal), reason=entry.reason,
        evidence=Evidence(tuple(ids)),
        text="",
    )  # fmt: skip
