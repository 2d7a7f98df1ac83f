"""A platform made of a gateway and a listener runs through the real service, outbox and store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from adapters.replay.reader import parse_event
from bot.core.decisions import Evidence, OpenLongformSpace, Signal
from bot.core.events import ConversationKey, Event, LongformOpened, MemberJoined, MessagePosted
from bot.core.requests import MemberRequested, ModeratorRequested, Requested
from bot.runtime.app import build_service
from bot.runtime.control import Control
from bot.runtime.gateway import CommunityRef, Notice, Place, UnresolvedError, Venue
from bot.runtime.gateway_adapter import GatewayAdapter
from bot.runtime.pipeline import Pipeline
from bot.runtime.platform import EventSink, Status
from bot.runtime.service import Runtime
from bot.storage.schema import Outcome
from tests.gateway_support import RecordingGateway
from tests.runtime_support import recent_lines, service_config
from tests.waiting import eventually


class _Listener:
    """Nothing to listen to: the test hands events to the service itself."""

    started: bool = False

    async def start(self, sink: EventSink, control: Control) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False


async def pile_on(runtime: Runtime) -> list[str]:
    """The bundled pile-on (as the ``replay`` platform's) handed to the runtime; its authors."""
    authors: list[str] = []
    for line in recent_lines("01_pile_on_clinician.jsonl"):
        event = parse_event(json.loads(line))
        if isinstance(event, MessagePosted | MemberJoined):
            event = replace(event, community=f"replay:{event.community}")
        if isinstance(event, MessagePosted):
            authors.append(event.author)
        await runtime.on_event(event)
    return authors


def _adapter() -> tuple[GatewayAdapter, RecordingGateway]:
    gateway = RecordingGateway(platform="replay")
    return GatewayAdapter(gateway, _Listener()), gateway


async def test_a_pile_on_reaches_the_gateway_and_each_step_survives_a_restart(
    tmp_path: Path,
) -> None:
    config = service_config(tmp_path, replay={"enabled": False})
    adapter, gateway = _adapter()
    service = build_service(config, extra_adapters={"replay": adapter})
    runtime = service.runtime
    await runtime.open()
    try:
        await adapter.start(runtime.on_event, Control(runtime))
        await pile_on(runtime)
        await service.executor.run_due()
        assert runtime.store.outbox.pending() == 0
    finally:
        await runtime.close()
    notices = gateway.called("post_notice")
    assert notices, "the pile-on's notice was posted through the gateway"
    assert gateway.called("alert_moderators"), "the moderators were alerted"
    first = notices[0]
    assert isinstance(first, Notice)
    done = runtime.store.outbox.get(_key_of(runtime, "post_notice"))
    assert done is not None
    runtime.store.close()

    again, fresh = _adapter()  # a restart: a new process over the same store
    restarted = build_service(config, extra_adapters={"replay": again})
    await restarted.runtime.open()
    try:
        await again.start(restarted.runtime.on_event, Control(restarted.runtime))
        result = await again.execute(done.decision, done.id)
    finally:
        await restarted.runtime.close()
        restarted.runtime.store.close()
    assert result.status is Status.SENT
    posted = {
        f"{name}-{n}" for n, (name, _) in enumerate(gateway.calls, 1) if name == "post_notice"
    }
    assert result.reference in posted, "the reference recorded before the restart comes back"
    assert not fresh.calls, "a step recorded before the restart is not done again"


def _key_of(runtime: object, kind: str) -> str:
    store = runtime.store  # type: ignore[attr-defined]
    entries = [e for e in store.audit.entries() if e.kind == kind and e.outcome == "sent"]
    assert entries, f"no {kind} was sent"
    return str(entries[0].decision_key)


async def test_an_undo_is_decided_by_the_core_carried_out_by_the_gateway_and_audited(
    tmp_path: Path,
) -> None:
    config = service_config(tmp_path, replay={"enabled": False})
    adapter, gateway = _adapter()
    service = build_service(config, extra_adapters={"replay": adapter})
    runtime = service.runtime
    control = Control(runtime)
    await runtime.open()
    service.executor.start()  # the undo waits for the executor, as it does in a live service
    try:
        await adapter.start(runtime.on_event, control)
        await pile_on(runtime)
        alert_key = await _eventually_sent(runtime, "alert_moderators")
        alert = await control.decision(alert_key)
        request = ModeratorRequested(Requested.UNDO, alert.conversation, "Dana", runtime.clock(),
                                     "alert-msg", alert, about_key=alert_key)  # fmt: skip
        done = await control.undo(request)
        again = await control.undo(request)  # a second click on the same alert
    finally:
        await service.executor.stop()
        await runtime.close()
    [undone_in] = gateway.called("undo_actions")
    assert isinstance(undone_in, Place)
    assert undone_in.conversation == alert.conversation
    assert done == again == "undone"  # the pipeline's words when the gateway says nothing more
    [undone] = [e for e in runtime.store.audit.entries(decision_key=alert_key)
                if e.outcome == Outcome.UNDONE]  # fmt: skip
    assert undone.detail.startswith("undone by Dana.")
    [undo] = [e for e in runtime.store.audit.entries() if e.kind == "undo_actions"
              and e.outcome == Outcome.SENT]  # fmt: skip
    assert undo.channel == alert.conversation.channel
    runtime.store.close()


async def test_an_opt_out_asked_of_the_core_is_recorded_and_an_opt_in_reverses_it(
    tmp_path: Path,
) -> None:
    config = service_config(tmp_path, replay={"enabled": False})
    service = build_service(config, extra_adapters={"replay": _adapter()[0]})
    runtime, here = service.runtime, ConversationKey("replay:c", "general")
    control = Control(runtime)
    await runtime.open()
    try:
        out = MemberRequested(Requested.OPT_OUT, here, "ana", "Ana", runtime.clock(), "m1",
                              scope="replay:c")  # fmt: skip
        answered = await control.answer(out)
        opted_out = runtime.store.prefs.is_opted_out("replay", "c", "ana")
        await control.answer(replace(out, action=Requested.OPT_IN))
        back_in = not runtime.store.prefs.is_opted_out("replay", "c", "ana")
    finally:
        await runtime.close()
        runtime.store.close()
    assert answered.opt_out is not None
    assert answered.opt_out.opted_out
    assert opted_out
    assert back_in


async def _eventually_sent(runtime: object, kind: str) -> str:
    async def sent() -> bool:
        store = runtime.store  # type: ignore[attr-defined]
        return any(e.kind == kind and e.outcome == "sent" for e in store.audit.entries())

    await eventually(sent, within=20, what=f"a {kind} sent by the executor")
    return _key_of(runtime, kind)


async def test_an_opened_space_is_told_to_the_engine_and_who_writes_there_is_an_outcome(
    tmp_path: Path,
) -> None:
    config = service_config(tmp_path, replay={"enabled": False})
    adapter, gateway = _adapter()
    service = build_service(config, extra_adapters={"replay": adapter})
    runtime = service.runtime
    await runtime.open()
    try:
        await adapter.start(runtime.on_event, Control(runtime))
        authors = await pile_on(runtime)
        await service.executor.run_due()
        [opened] = [j.entry for j in runtime.store.journal.since(0)
                    if isinstance(j.entry, LongformOpened)]  # fmt: skip
        [venue] = [v for v in gateway.called("open_venue") if isinstance(v, Venue)]
        assert opened.conversation == venue.origin.conversation
        assert opened.venue.channel == "venues"  # RecordingGateway.venue_place
        now = datetime.now(UTC)
        await runtime.on_event(MessagePosted("in-venue-1", now, opened.venue.community,
                                             opened.venue.channel, authors[0], "My claim: ...",
                                             opened.venue.thread))  # fmt: skip
        await runtime.tick(now + timedelta(hours=3))
        stored = runtime.store.outcomes.read()
    finally:
        await runtime.close()
        runtime.store.close()
    [space] = [o for o in stored if o.action == "open_longform_space"]
    assert space.measures["moved"] == 1.0
    assert space.measures["any_moved"] == 1.0


class _NoVenues(RecordingGateway):
    def venue_place(self, community: CommunityRef, reference: str) -> Place:
        raise UnresolvedError(f"{reference!r} is not a venue here")


def _space() -> OpenLongformSpace:
    here = ConversationKey("replay:c", "general", "t1")
    return OpenLongformSpace(here, "m1", datetime.now(UTC), Signal.ESCALATION, "heated",
                             Evidence(("m1",)), title="Long form", template=("Claim",),
                             participants=(), key_messages=("m1",), text="Room.")  # fmt: skip


async def _opened_with(gateway: RecordingGateway, sink: EventSink) -> tuple[Status, list[str]]:
    adapter = GatewayAdapter(gateway, _Listener())
    with structlog.testing.capture_logs() as logs:
        adapter.pipeline = Pipeline(gateway)
        adapter._sink, adapter._now = sink, lambda: datetime.now(UTC)
        result = await adapter.execute(_space(), "k" * 32)
    return result.status, [str(entry["event"]) for entry in logs]


async def test_a_venue_the_platform_cannot_place_still_leaves_the_space_opened() -> None:
    seen: list[Event] = []

    async def sink(event: Event) -> None:
        seen.append(event)

    status, logged = await _opened_with(_NoVenues(platform="replay"), sink)
    assert status is Status.SENT
    assert seen == []
    assert "venue_unknown" in logged


async def test_a_sink_that_fails_does_not_fail_the_opened_space() -> None:
    async def broken(event: Event) -> None:
        raise RuntimeError("the runtime is closing")

    status, logged = await _opened_with(RecordingGateway(platform="replay"), broken)
    assert status is Status.SENT  # not retried: a retry would open nothing new, only re-tell
    assert "venue_not_recorded" in logged
