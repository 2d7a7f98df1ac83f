"""What the runtime asks of a platform adapter, and what an adapter reports back.

An adapter translates platform events into core events (handing them to the runtime's sink) and
core decisions into platform calls (``execute``). It never raises from ``execute``: every platform
error becomes an ``ActionResult`` that says whether to retry and when, so one failing action never
stops the loop. ``execute`` receives the decision's idempotency key: a platform that can refuse a
duplicate (Discord's message nonce) uses it, so a retry after a crash does not post twice. Community ids in events are prefixed with the platform (``discord:<guild id>``,
``telegram:<chat id>``; ``bot.runtime.gateway.CommunityRef`` reads and writes them), so the runtime
can route a decision back to the adapter that owns it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from bot.core.decisions import Decision
from bot.core.events import Event

EventSink = Callable[[Event], Awaitable[None]]


class Status(StrEnum):
    """How one attempt at a decision ended."""

    SENT = "sent"  # done as decided
    DOWNGRADED = "downgraded"  # done another way (DMs closed: a neutral public notice instead)
    FAILED = "failed"  # not done; ``retry_after`` says whether to try again
    SKIPPED = "skipped"  # nothing to do (already lifted, unknown channel that was deleted...)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The result of one attempt: what happened, why, and when to retry (None: never)."""

    status: Status
    detail: str = ""
    retry_after: float | None = None
    reference: str = ""  # the platform's id of what was created (message, post), for undo and links

    @classmethod
    def sent(cls, detail: str = "", reference: str = "") -> ActionResult:
        return cls(Status.SENT, detail, None, reference)

    @classmethod
    def failed(cls, detail: str, retry_after: float | None = None) -> ActionResult:
        return cls(Status.FAILED, detail, retry_after)


# Generic in the controls it is handed, so that this module need not import
# bot.runtime.control.Control: Control imports the service, which imports this (it was a cycle).
ControlT = TypeVar("ControlT", contravariant=True)


class PlatformAdapterOf(Protocol[ControlT]):
    """One platform, wired to the runtime; ``start`` is handed the runtime's ``Control``."""

    @property
    def platform(self) -> str:
        """``discord``, ``telegram`` or ``replay``: the prefix of its community ids."""
        ...

    async def start(self, sink: EventSink, control: ControlT) -> None:
        """Connect and start handing events to ``sink``; return once connected. ``control`` is
        how buttons and commands reach the service (explanations, feedback, opt-outs, mode)."""
        ...

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        """Carry out one decision. Never raises: platform errors become an ActionResult."""
        ...

    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        """Post ``text`` (the daily digest) where the community's moderators read."""
        ...

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        """Post ``text`` in the long-form space ``reference`` (as returned when it was opened)."""
        ...

    async def stop(self) -> None:
        """Disconnect; pending work is left to the outbox."""
        ...


# What the runtime holds: adapters of any control type (in practice bot.runtime.control.Control).
PlatformAdapter = PlatformAdapterOf[Any]
