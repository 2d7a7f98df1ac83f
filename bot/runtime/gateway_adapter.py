"""A platform adapter made of a gateway and a listener: all a new platform has to write.

How it works: ``GatewayAdapter`` is the runtime's ``PlatformAdapter`` for any platform that
offers a ``Gateway`` (primitives out) and a ``Listener`` (translated events and requests in). On
start it builds the one ``Pipeline`` with a step store kept through ``Control`` (so steps survive
a restart) and the service's settings; decisions, the digest and long-form reminders all go
through the gateway, with the pipeline's error handling. Nothing here is platform code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from typing import Protocol

from bot.core.decisions import Decision
from bot.runtime.control import Control
from bot.runtime.gateway import (
    Alert,
    CommunityRef,
    Gateway,
    GatewayError,
    RetryLaterError,
    Sent,
    Step,
    Steps,
)
from bot.runtime.pipeline import Pipeline
from bot.runtime.platform import ActionResult, EventSink


class Listener(Protocol):
    """The platform's inbound half: connects, translates, hands events to the sink."""

    async def start(self, sink: EventSink, control: Control) -> None:
        """Connect and start listening; return once connected."""
        ...

    async def stop(self) -> None:
        """Disconnect."""
        ...


class ControlSteps:
    """Steps kept as the adapter's state through ``Control`` (the states table)."""

    def __init__(self, control: Control) -> None:
        self.control = control

    async def load(self, key: str) -> Steps:
        stored = await self.control.recall(f"steps:{key}")
        if not isinstance(stored, list):
            return Steps()
        return Steps(tuple(Step(*(str(part) for part in s[:4])) for s in stored if len(s) >= 3))

    async def save(self, key: str, steps: Steps) -> None:
        await self.control.remember(
            f"steps:{key}", [[s.name, s.reference, s.link, s.detail] for s in steps.done]
        )


class GatewayAdapter:
    """``PlatformAdapter`` for a gateway and a listener."""

    def __init__(self, gateway: Gateway, listener: Listener) -> None:
        self.gateway, self.listener = gateway, listener
        self.pipeline: Pipeline | None = None

    @property
    def platform(self) -> str:
        return self.gateway.platform

    async def start(self, sink: EventSink, control: Control) -> None:
        self.pipeline = Pipeline(self.gateway, ControlSteps(control), control.settings)
        await self.listener.start(sink, control)

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        if self.pipeline is None:
            return ActionResult.failed(f"the {self.platform} adapter has not started", 0.0)
        return await self.pipeline.execute(decision, key)

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        key = hashlib.sha256(f"{community}\n{text}".encode()).hexdigest()[:32]
        alert = Alert(CommunityRef.parse(community), text)
        return await _result_of(self.gateway.alert_moderators(alert, key))

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        posting = self.gateway.post_in_venue(CommunityRef.parse(community), reference, text)
        return await _result_of(posting)

    async def stop(self) -> None:
        await self.listener.stop()


async def _result_of(sending: Awaitable[Sent]) -> ActionResult:
    try:
        sent = await sending
    except RetryLaterError as error:
        return ActionResult.failed(error.detail, error.retry_after)
    except GatewayError as error:
        return ActionResult.failed(error.detail)
    return ActionResult.sent(sent.detail, sent.reference)
