"""A moderator's undo end to end through the real service, outbox and store (issue 15): what it
waits for, what it says when the platform refuses or is slow, and what the audit keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.core.decisions import Decision, UndoActions
from bot.core.requests import MemberRequested, ModeratorRequested, Requested
from bot.runtime.app import Service, build_service
from bot.runtime.control import Control, ControlError
from bot.runtime.gateway import UnresolvedError
from bot.runtime.gateway_adapter import GatewayAdapter
from bot.storage.schema import OutboxState, Outcome
from tests.gateway_support import RecordingGateway
from tests.runtime_support import service_config
from tests.test_gateway_adapter import _Listener, pile_on


@dataclass
class _Live:
    service: Service
    control: Control
    gateway: RecordingGateway
    alert_key: str
    alert: Decision

    def undo(self, by: str = "Dana") -> ModeratorRequested:
        return ModeratorRequested(Requested.UNDO, self.alert.conversation, by,
                                  self.service.runtime.clock(), "alert-msg", self.alert,
                                  about_key=self.alert_key)  # fmt: skip


@asynccontextmanager
async def _live(tmp_path: Path, executing: bool = True) -> AsyncIterator[_Live]:
    """The bundled pile-on judged and carried out, an alert sent; the executor left running
    (``executing``) or stopped, so that an undo waits for nothing."""
    gateway = RecordingGateway(platform="replay")
    adapter = GatewayAdapter(gateway, _Listener())
    service = build_service(service_config(tmp_path, replay={"enabled": False}),
                            extra_adapters={"replay": adapter})  # fmt: skip
    runtime = service.runtime
    control = Control(runtime)
    await runtime.open()
    try:
        await adapter.start(runtime.on_event, control)
        await pile_on(runtime)
        await service.executor.run_due()
        [key] = [e.decision_key for e in runtime.store.audit.entries()
                 if e.kind == "alert_moderators" and e.outcome == Outcome.SENT][:1]  # fmt: skip
        assert key is not None
        if executing:
            service.executor.start()
        yield _Live(service, control, gateway, key, await control.decision(key))
    finally:
        await service.executor.stop()
        await runtime.close()
        runtime.store.close()


def _undone(live: _Live) -> list[str]:
    entries = live.service.runtime.store.audit.entries(decision_key=live.alert_key)
    return [e.detail for e in entries if e.outcome == Outcome.UNDONE]


async def test_an_undo_not_carried_out_in_time_says_so_and_stays_queued(tmp_path: Path) -> None:
    async with _live(tmp_path, executing=False) as live:
        with pytest.raises(ControlError, match="queued but not done yet"):
            await live.control.undo(live.undo(), within=0.2)
        runtime = live.service.runtime
        pending = [i for i in runtime.store.outbox.claim_due(runtime.clock())
                   if isinstance(i.decision, UndoActions)]  # fmt: skip
        assert len(pending) == 1, "the undo was not kept in the outbox to be done later"
        assert _undone(live) == []  # nothing undone yet, so nothing audited as undone
        assert live.gateway.called("undo_actions") == []


async def test_an_undo_the_platform_refuses_names_the_problem_and_audits_nothing(
    tmp_path: Path,
) -> None:
    async with _live(tmp_path) as live:
        live.gateway.fail["undo_actions"] = [UnresolvedError("the thread is gone")]
        with pytest.raises(ControlError, match=r"could not undo it: .*the thread is gone"):
            await live.control.undo(live.undo())
        assert _undone(live) == []


async def test_an_undo_is_audited_on_the_decision_it_was_asked_from_with_who(
    tmp_path: Path,
) -> None:
    async with _live(tmp_path) as live:
        done = await live.control.undo(live.undo("Priya"))
        stored = live.service.runtime.store.outbox.get(
            next(e.decision_key for e in live.service.runtime.store.audit.entries()
                 if e.kind == "undo_actions"))  # fmt: skip
    assert done == "undone"
    assert _undone(live) == ["undone by Priya. undone"]
    assert stored is not None
    assert stored.state is OutboxState.DONE


async def test_undo_takes_only_an_undo_and_one_from_no_decision_is_refused(tmp_path: Path) -> None:
    async with _live(tmp_path) as live:
        with pytest.raises(ValueError, match="takes an undo request, not slow_down"):
            await live.control.undo(replace(live.undo(), action=Requested.SLOW_DOWN))
        with pytest.raises(ControlError, match="nothing of Longform's to undo"):
            await live.control.undo(replace(live.undo(), about=None))


async def test_recording_an_undo_of_an_unknown_decision_is_refused(tmp_path: Path) -> None:
    async with _live(tmp_path) as live:
        with pytest.raises(ControlError, match="too old"):
            await live.control.record_undone("f" * 32, "Dana")


async def test_why_about_a_decision_is_explained_by_the_core(tmp_path: Path) -> None:
    async with _live(tmp_path) as live:
        asked = MemberRequested(Requested.WHY, live.alert.conversation, "u1", "Ana",
                                live.service.runtime.clock(), "n1", about=live.alert)  # fmt: skip
        answered = await live.control.answer(asked)
        explained = await live.control.explain(live.alert_key)
    assert answered.explanation == explained
    assert answered.opt_out is None
