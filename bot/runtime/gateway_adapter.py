"""A platform adapter made of a gateway and a listener: all a new platform has to write.

How it works: ``GatewayAdapter`` is the runtime's ``PlatformAdapter`` for any platform that
offers a ``Gateway`` (primitives out) and a ``Listener`` (translated events and requests in). On
start it builds the one ``Pipeline`` with a step store kept through ``Control`` (so steps survive
a restart) and the service's settings; decisions, the digest and long-form reminders all go
through the gateway, with the pipeline's error handling. Once a long-form space is open, the
engine is told where (a ``LongformOpened`` event through the sink, as the platform's events come),
so its outcomes can count who moved there. Nothing here is platform code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

import structlog

from bot.core.decisions import Decision, OpenLongformSpace
from bot.core.events import LongformOpened
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
from bot.runtime.platform import ActionResult, EventSink, Status

log = structlog.get_logger()


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
        self._sink: EventSink | None = None
        self._now: Callable[[], datetime] | None = None

    @property
    def platform(self) -> str:
        return self.gateway.platform

    async def start(self, sink: EventSink, control: Control) -> None:
        self.pipeline = Pipeline(self.gateway, ControlSteps(control), control.settings)
        self._sink, self._now = sink, control.now
        await self.listener.start(sink, control)

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        if self.pipeline is None:
            return ActionResult.failed(f"the {self.platform} adapter has not started", 0.0)
        result = await self.pipeline.execute(decision, key)
        if isinstance(decision, OpenLongformSpace) and result.status is Status.SENT:
            await self._opened(decision, result.reference)
        return result

    async def _opened(self, decision: OpenLongformSpace, reference: str) -> None:
        """Tell the engine where the space it decided is (outcomes: who moved there and wrote).
        A consent offer has no venue yet (no reference); a platform that cannot say is logged."""
        if not reference or self._sink is None or self._now is None:
            return
        community = CommunityRef.parse(decision.conversation.community)
        try:
            venue = self.gateway.venue_place(community, reference)
        except GatewayError as error:
            log.warning("venue_unknown", platform=self.platform, problem=error.detail)
            return
        opened = LongformOpened(self._now(), decision.conversation, decision.message_id,
                                venue.conversation)  # fmt: skip
        try:
            await self._sink(opened)
        except Exception:  # the space is open: a lost outcome must not fail (and redo) the action
            log.exception("venue_not_recorded", platform=self.platform)

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
