"""A platform made of a gateway and a listener runs through the real service, outbox and store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from adapters.replay.reader import parse_event
from bot.runtime.app import build_service
from bot.runtime.control import Control
from bot.runtime.gateway import Notice
from bot.runtime.gateway_adapter import GatewayAdapter
from bot.runtime.platform import EventSink, Status
from tests.gateway_support import RecordingGateway
from tests.runtime_support import recent_lines, service_config


class _Listener:
    """Nothing to listen to: the test hands events to the service itself."""

    started: bool = False

    async def start(self, sink: EventSink, control: Control) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False


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
        for line in recent_lines("01_pile_on_clinician.jsonl"):
            event = parse_event(json.loads(line))
            if hasattr(event, "community"):
                event = replace(event, community=f"replay:{event.community}")
            await runtime.on_event(event)
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
