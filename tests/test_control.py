"""The seam adapters call (bot.runtime.control), on the real service and its SQLite store:
explanations, stored decisions and their audit-only afterlife, feedback, opt-outs, adapter state,
moderator requests and undo, and what shadow mode and opt-outs hold back.

Mutation testing (issue 18) found that no runtime test reached this module: the adapter tests
did, through a platform. These state its behaviour without one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.decisions import (
    AlertModerators,
    Decision,
    Decisions,
    Evidence,
    PostNotice,
    PromptKind,
    PromptMember,
    Signal,
)
from bot.core.events import ConversationKey
from bot.runtime.app import Service, build_service
from bot.runtime.control import Control, ControlError, Explanation
from bot.storage import codec
from bot.storage.audit import AuditEntry, Provenance
from bot.storage.schema import Outcome
from tests.runtime_support import service_config

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
HERE = ConversationKey("replay:c", "general", "t1")
EV = Evidence(("m1", "m2"), (("insult", 0.91),))


def _notice(message_id: str = "m2") -> PostNotice:
    return PostNotice(HERE, message_id, NOW, Signal.PILE_ON, "Three members replied at once.", EV,
                      text="Several people replied at once.")  # fmt: skip


def _alert(message_id: str = "m3") -> AlertModerators:
    return AlertModerators(HERE, message_id, NOW, Signal.ESCALATION, "The thread heats up.", EV,
                           text="Heat rising.")  # fmt: skip


def _prompt(member: str) -> PromptMember:
    return PromptMember(HERE, "m4", NOW, Signal.PILE_ON, "Replies at once.", EV, member=member,
                        kind=PromptKind.PILE_ON_TARGET, text="Hi.")  # fmt: skip


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    served = build_service(service_config(tmp_path))
    served.runtime.clock = lambda: NOW
    await served.runtime.open()
    try:
        yield served
    finally:
        await served.runtime.close()
        served.runtime.store.close()


async def _store(service: Service, decision: Decision) -> str:
    """Put ``decision`` in the outbox as a moderator's request would (never held back); its key."""
    await service.runtime.submit(Decisions(actions=(decision,)), "", moderator=True)
    return codec.decision_key(decision, "replay")


def _outcomes(service: Service, message_id: str) -> list[Outcome]:
    return [e.outcome for e in service.runtime.store.audit.entries(message_id=message_id)]


# -- explanations ---------------------------------------------------------------------------------


def test_an_explanation_lists_at_most_max_messages_and_counts_the_rest() -> None:
    scores = (("insult", 0.912), ("toxicity", 0.5), ("threat", 0.25), ("attack", 0.1))
    ids = tuple(f"m{i}" for i in range(1, 8))
    text = Explanation("Three members replied.", "pile_on", ids, scores).text()
    assert text.startswith("Three members replied. ")
    assert "Messages considered: m1, m2, m3, m4, m5 and 2 more." in text
    assert "Scores: insult 0.91, toxicity 0.50, threat 0.25." in text
    assert "attack" not in text
    assert text.endswith("moderators decide.")
    exactly = Explanation("R.", "pile_on", ids[:5], ()).text()
    assert "m1, m2, m3, m4, m5." in exactly
    assert "more" not in exactly
    assert "Scores" not in exactly
    assert "Messages considered" not in Explanation("R.", "pile_on", (), ()).text()
    assert "m1, m2 and 5 more." in Explanation("R.", "pile_on", ids, ()).text(max_messages=2)


async def test_a_stored_decision_is_explained_and_found_by_its_key(service: Service) -> None:
    control = Control(service.runtime)
    key = await _store(service, _notice())
    assert await control.decision(key) == _notice()
    explanation = await control.explain(key)
    assert explanation == Explanation("Three members replied at once.", "pile_on", ("m1", "m2"),
                                      (("insult", 0.91),))  # fmt: skip


async def test_a_decision_only_the_audit_remembers_is_explained_from_it(service: Service) -> None:
    control = Control(service.runtime)
    provenance = Provenance("replay", "strict", "1", "live")
    entry = AuditEntry.of(_alert(), Outcome.SENT, at=NOW, provenance=provenance,
                          decision_key="k" * 32)  # fmt: skip
    service.runtime.store.audit.append(entry)
    decision = await control.decision("k" * 32)
    assert decision == AlertModerators(HERE, "m3", NOW, Signal.ESCALATION, "The thread heats up.",
                                       Evidence(("m1", "m2")), text="")  # fmt: skip
    with pytest.raises(ControlError, match="too old"):
        await control.decision("0" * 32)


async def test_why_explains_the_last_decision_on_a_message_of_that_platform(
    service: Service,
) -> None:
    control = Control(service.runtime)
    store = service.runtime.store
    for platform, reason in [("replay", "first"), ("replay", "second"), ("discord", "other")]:
        decision = PostNotice(HERE, "m7", NOW, Signal.PILE_ON, reason, EV, text="t")
        store.audit.append(AuditEntry.of(decision, Outcome.SENT, at=NOW,
                                         provenance=Provenance(platform, "strict", "1", "live")))  # fmt: skip
    assert await control.explain_message("replay", "m7") == Explanation(
        "second", "pile_on", ("m7",), ()
    )
    assert await control.explain_message("telegram", "m7") is None
    assert await control.explain_message("replay", "m8") is None


# -- feedback, opt-outs, adapter state -----------------------------------------------------------


async def test_feedback_is_counted_for_the_decisions_signal_and_community(service: Service) -> None:
    control = Control(service.runtime)
    key = await _store(service, _notice())
    await control.feedback("replay", key, True, by="mo")
    await control.feedback("replay", key, False, by="ana")
    await control.feedback("replay", key, False, by="bo")
    feedback = service.runtime.store.feedback
    assert feedback.feedback_counts() == {"pile_on": (1, 2)}
    assert feedback.feedback_counts("replay:c") == {"pile_on": (1, 2)}
    assert feedback.feedback_counts("replay:other") == {}


async def test_opting_out_is_kept_per_raw_community_or_for_all(service: Service) -> None:
    control = Control(service.runtime)
    prefs = service.runtime.store.prefs
    await control.set_opt_out("replay", "replay:c", "ana")
    assert prefs.is_opted_out("replay", "c", "ana")
    assert not prefs.is_opted_out("replay", "d", "ana")
    await control.set_opt_out("replay", "c", "ana", opted_out=False)  # a raw id works too
    assert not prefs.is_opted_out("replay", "c", "ana")
    await control.set_opt_out("replay", "", "bo")
    assert prefs.is_opted_out("replay", "d", "bo")


async def test_an_adapter_recalls_what_it_remembered_and_nothing_else(service: Service) -> None:
    control = Control(service.runtime)
    assert await control.recall("slow_modes") is None
    await control.remember("slow_modes", {"general": 30})
    assert await control.recall("slow_modes") == {"general": 30}
    stored = service.runtime.store.states.load("adapter:slow_modes")
    assert stored is not None
    assert stored.version == 1  # the format an adapter's state is kept in
    assert await control.recall("other") is None


# -- what is held back, and what moderators ask for ----------------------------------------------


async def test_shadow_mode_holds_back_all_but_alerts_and_moderators_are_never_held(
    service: Service,
) -> None:
    runtime = service.runtime
    runtime.set_mode("replay:c", "shadow")
    await runtime.submit(Decisions(actions=(_notice("m2"), _alert("m3"))), "")
    assert _outcomes(service, "m2") == [Outcome.SUPPRESSED_SHADOW]
    assert _outcomes(service, "m3") == [Outcome.DECIDED]
    await _store(service, _notice("m5"))  # what a moderator asks for is never held back
    assert _outcomes(service, "m5") == [Outcome.DECIDED]
    assert runtime.store.outbox.pending() == 2


async def test_a_prompt_to_a_member_who_opted_out_is_audited_not_sent(service: Service) -> None:
    runtime = service.runtime
    runtime.store.prefs.set_opt_out("replay", "c", "ana", now=NOW)
    await runtime.submit(Decisions(actions=(_prompt("ana"),)), "")
    assert _outcomes(service, "m4") == [Outcome.OPTED_OUT]
    await runtime.submit(Decisions(actions=(_prompt("bo"),)), "")
    assert _outcomes(service, "m4") == [Outcome.OPTED_OUT, Outcome.DECIDED]
    assert runtime.store.outbox.pending() == 1


async def test_undoing_a_decision_is_audited_with_who_and_why(service: Service) -> None:
    control = Control(service.runtime)
    key = await _store(service, _notice())
    await control.record_undone(key, "mo", "not needed")
    (undone,) = [e for e in service.runtime.store.audit.entries(decision_key=key)
                 if e.outcome is Outcome.UNDONE]  # fmt: skip
    assert undone.detail == "undone by mo. not needed"
    assert undone.platform == "replay"
    assert undone.at == NOW
    assert undone.policy == "strict"
    await control.record_undone(key, "mo")
    last = service.runtime.store.audit.entries(decision_key=key)[-1]
    assert last.detail == "undone by mo."


async def test_status_and_policy_name_the_mode_policy_and_thresholds(service: Service) -> None:
    control = Control(service.runtime)
    status = await control.status("replay:c")
    assert "live mode" in status
    assert "'strict' policy" in status
    assert "0 conversations" in status
    settings: Any = control.settings("replay:c", "general")
    summary = await control.policy_summary("replay:c")
    assert f"needs {settings.pile_on.min_authors} members" in summary
    assert f"from {settings.ad_hominem.detect_at:.2f}" in summary
    assert control.mode("replay:c") == "live"
    assert control.now() == NOW


async def test_a_dashboard_link_signs_in_once_for_the_served_communities_only(
    tmp_path: Path,
) -> None:
    communities = [{"platform": "replay", "id": "c", "moderators": "mods", "name": "Ward"}]
    dashboard = {"enabled": True, "listen": "127.0.0.1", "port": 8999}
    served = build_service(service_config(tmp_path, communities=communities, dashboard=dashboard))
    served.runtime.clock = lambda: NOW
    try:
        link = await Control(served.runtime).dashboard_link(
            "replay", "mo", ["replay:c", "replay:unserved"], name="Mo"
        )
        base, _, token = link.partition("/signin?token=")
        assert base == served.runtime.config.dashboard.base_url
        assert token
        signins = served.runtime.store.signins
        opened = signins.redeem(token, now=NOW + timedelta(minutes=1))
        assert opened is not None
        moderator = opened[1].moderator
        assert (moderator.platform, moderator.member, moderator.name) == ("replay", "mo", "Mo")
        assert moderator.communities == ("replay:c",)
        assert signins.redeem(token, now=NOW + timedelta(minutes=1)) is None  # once
    finally:
        served.runtime.store.close()
