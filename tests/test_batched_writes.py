"""The executor records a batch of results in one transaction (issue 14), and keeps its promises
while doing so: a stop mid-batch leaves nothing in flight and carries nothing out twice, an undo
is audited on its decision before its own result, and a slow call does not hold back the results
before it. Real service, outbox and SQLite store; the platform is a scripted one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.core.decisions import AlertModerators, Decision, Evidence, PostNotice, Signal, UndoActions
from bot.core.events import ConversationKey
from bot.runtime import executor as executor_module
from bot.runtime.app import Service, build_service
from bot.runtime.platform import ActionResult
from bot.storage.audit import Provenance
from bot.storage.outbox import Result
from bot.storage.schema import OutboxState, Outcome
from tests.runtime_support import QuietPlatform, service_config
from tests.waiting import eventually

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)  # all due, none expired
PROVENANCE = Provenance("replay", "strict", "v", "live")
PLACE = ConversationKey("replay:c", "general")


@dataclass
class _Platform(QuietPlatform):
    """Carries out everything at once, except the keys in ``hold``: those wait for ``go``."""

    hold: set[str] = field(default_factory=set)
    go: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        self.started.append(key)
        if key in self.hold:
            await self.go.wait()
        self.done.append(key)
        return ActionResult.sent("undone" if isinstance(decision, UndoActions) else "")


@dataclass
class _Setup:
    service: Service
    platform: _Platform

    def enqueue(self, decisions: list[Decision]) -> list[str]:
        """Each decision due from the time it was decided (so the outbox's order is theirs)."""
        outbox = self.service.runtime.store.outbox
        return [outbox.enqueue([d], now=d.at, provenance=PROVENANCE)[0] for d in decisions]

    def state(self, key: str) -> tuple[OutboxState, int]:
        item = self.service.runtime.store.outbox.get(key)
        assert item is not None
        return item.state, item.attempts

    def audit(self, key: str) -> list[tuple[int, Outcome]]:
        return [(e.id, e.outcome)
                for e in self.service.runtime.store.audit.entries(decision_key=key)]  # fmt: skip


def _notices(count: int) -> list[Decision]:
    return [PostNotice(PLACE, f"m{i}", T0 + timedelta(seconds=i), Signal.PILE_ON, "many replies",
                       Evidence((f"m{i}",)), text="hi") for i in range(count)]  # fmt: skip


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[_Setup]:
    platform = _Platform()
    config = service_config(tmp_path, replay={"enabled": False})
    service = build_service(config, extra_adapters={"replay": platform})  # type: ignore[dict-item]
    try:
        yield _Setup(service, platform)
    finally:
        await service.executor.stop()
        service.runtime.store.close()


async def test_a_batch_of_due_items_is_recorded_in_one_commit(
    setup: _Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_module, "RECORD_EVERY", 60.0)  # no early record on a slow day
    keys = setup.enqueue(_notices(40))
    commits: list[int] = []  # (after enqueuing)
    event.listen(setup.service.runtime.store.engine, "commit", lambda _c: commits.append(1))
    assert await setup.service.executor.run_due() == 40
    # The claim, the results, and the claim that found nothing more (one commit per item before).
    assert len(commits) == 3
    assert {setup.state(key) for key in keys} == {(OutboxState.DONE, 1)}
    assert all(setup.audit(key)[-1][1] is Outcome.SENT for key in keys)
    assert setup.platform.done == keys  # in the order decided


async def test_a_stop_mid_batch_records_what_was_done_and_puts_back_the_rest(
    setup: _Setup,
) -> None:
    keys = setup.enqueue(_notices(12))
    setup.platform.hold = {keys[4]}
    executor = setup.service.executor
    executor.start()
    await eventually(lambda: keys[4] in setup.platform.started, within=30,
                     what="the fifth item being carried out")  # fmt: skip
    stopping = asyncio.create_task(executor.stop())
    await eventually(lambda: executor._stopping, within=10, what="the stop begun")
    setup.platform.go.set()  # the call in progress ends within the stop's grace
    await stopping
    states = [setup.state(key) for key in keys]
    assert states[:5] == [(OutboxState.DONE, 1)] * 5
    assert states[5:] == [(OutboxState.PENDING, 0)] * 7  # never attempted: no attempt counted
    assert setup.service.runtime.store.outbox.pending() == 7
    # Started again: the rest is carried out, and nothing that was done is done again.
    assert await executor.run_due() == 7
    assert setup.platform.done == keys
    assert {setup.state(key)[0] for key in keys} == {OutboxState.DONE}


async def test_a_call_cut_short_by_a_stop_is_put_back_not_left_in_flight(
    setup: _Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_module, "STOP_GRACE", 0.05)
    keys = setup.enqueue(_notices(4))
    setup.platform.hold = {keys[1]}  # never let go
    setup.service.executor.start()
    await eventually(lambda: keys[1] in setup.platform.started, within=30,
                     what="the second item being carried out")  # fmt: skip
    await setup.service.executor.stop()
    assert [setup.state(key)[0] for key in keys] == [OutboxState.DONE] + [OutboxState.PENDING] * 3
    assert setup.platform.done == keys[:1]


async def test_an_undo_is_audited_on_its_decision_first_and_recorded_at_once(
    setup: _Setup,
) -> None:
    alert = AlertModerators(PLACE, "m0", T0, Signal.PILE_ON, "many replies", Evidence(("m0",)),
                            text="look")  # fmt: skip
    (alert_key,) = setup.enqueue([alert])
    assert await setup.service.executor.run_due() == 1
    undo = UndoActions(PLACE, "m0", T0 + timedelta(seconds=1), Signal.PILE_ON, "asked",
                       Evidence(()), undone=alert_key, by="Dana")  # fmt: skip
    [before, undo_key, after] = setup.enqueue([*_notices(1), undo, *_notices(3)[2:]])
    setup.platform.hold = {after}  # the batch goes on after the undo, and waits there
    setup.service.executor.start()
    await eventually(lambda: after in setup.platform.started, within=30,
                     what="the item after the undo being carried out")  # fmt: skip
    # The batch is not over, yet the undo (and what came before it) is recorded already.
    await eventually(lambda: setup.state(undo_key)[0] is OutboxState.DONE, within=5,
                     what="the undo recorded while the batch goes on")  # fmt: skip
    assert setup.state(before)[0] is OutboxState.DONE
    [(undone_id, _)] = [line for line in setup.audit(alert_key) if line[1] is Outcome.UNDONE]
    [(sent_id, _)] = [line for line in setup.audit(undo_key) if line[1] is Outcome.SENT]
    assert undone_id < sent_id  # whoever sees the undo done also finds the undone line
    setup.platform.go.set()
    await eventually(lambda: setup.state(after)[0] is OutboxState.DONE, within=30,
                     what="the last item recorded")  # fmt: skip


async def test_a_slow_call_does_not_hold_back_the_results_before_it(setup: _Setup) -> None:
    keys = setup.enqueue(_notices(3))
    setup.platform.hold = {keys[2]}
    setup.service.executor.start()
    await eventually(lambda: keys[2] in setup.platform.started, within=30,
                     what="the third item being carried out")  # fmt: skip
    await eventually(lambda: setup.state(keys[1])[0] is OutboxState.DONE, within=5,
                     what="the first two recorded while the third call lasts")  # fmt: skip
    assert setup.state(keys[2]) == (OutboxState.IN_FLIGHT, 1)
    setup.platform.go.set()
    await eventually(lambda: setup.state(keys[2])[0] is OutboxState.DONE, within=30,
                     what="the slow one recorded")  # fmt: skip


def test_recording_many_results_skips_stale_items_and_keeps_the_others(setup: _Setup) -> None:
    outbox = setup.service.runtime.store.outbox
    keys = setup.enqueue(_notices(3))
    outbox.claim_due(T0 + timedelta(seconds=10), limit=3)
    outbox.mark_failed(keys[1], "gone", None, now=T0)  # failed for good meanwhile
    retry = T0 + timedelta(minutes=5)
    stale = outbox.record([Result(keys[0], Outcome.SENT, "ok"), Result(keys[1], Outcome.SENT),
                           Result(keys[2], Outcome.FAILED, "rate limited", retry),
                           Result("nope", Outcome.SENT)], now=T0)  # fmt: skip
    assert stale == [keys[1], "nope"]
    assert setup.state(keys[0]) == (OutboxState.DONE, 1)
    assert setup.state(keys[1]) == (OutboxState.FAILED, 1)
    assert setup.state(keys[2]) == (OutboxState.PENDING, 1)
    assert outbox.get(keys[2]).next_attempt_at == retry  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="not a done outcome"):
        outbox.record([Result(keys[0], Outcome.EXPIRED)], now=T0)
    assert outbox.release([keys[2]]) == 0  # pending already: release leaves it alone


def test_the_opt_outs_of_a_batch_are_read_in_one_query(setup: _Setup) -> None:
    store = setup.service.runtime.store
    store.prefs.set_opt_out("replay", "c", "ann", now=T0)
    store.prefs.set_opt_out("replay", "", "bob", now=T0)  # everywhere
    store.prefs.set_opt_out("replay", "c", "cy", False, now=T0)  # here not, whatever elsewhere
    store.prefs.set_opt_out("replay", "", "cy", now=T0)
    wanted = [("replay", "c", member) for member in ("ann", "bob", "cy", "dee")]
    selects: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda _c, _k, sql, *_: selects.append(sql) if "member_pref" in sql else None)  # fmt: skip
    with store.batch(timedelta(hours=1)) as batch:
        batch.read_opt_outs(wanted)
        answers = [batch.is_opted_out(*key) for key in wanted]
    assert len(selects) == 1
    assert answers == [True, True, False, False]
    assert answers == [store.prefs.is_opted_out(*key) for key in wanted]  # as one by one
