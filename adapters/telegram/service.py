"""What the adapter reads of the running service beyond ``Control``: the policy in force for a
conversation, the service's clock, and a small durable memory (which members a slow mode
restricted, so the lift finds them after a restart). One place, so that the rest of the adapter
never reaches into the runtime, and one protocol, so that tests can stand in for the service.

The durable memory uses the runtime's named JSON snapshots (``store.states``); ``Control`` has no
method for it yet, so this module is the only one that reaches past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from bot.core.settings import Settings
from bot.runtime.control import Control

Emulation = Literal["restrict", "ask_admins"]
EMULATIONS: tuple[Emulation, ...] = ("restrict", "ask_admins")


class Service(Protocol):
    """The service as the executor, buttons and commands need to see it."""

    def settings(self, community: str, channel: str) -> Settings:
        """The effective policy settings in ``channel`` of ``community``."""
        ...

    def now(self) -> datetime:
        """The service's clock (UTC)."""
        ...

    async def load(self, name: str) -> Any:
        """The JSON value saved under ``name``, or None."""
        ...

    async def save(self, name: str, value: Any) -> None:
        """Save ``value`` (any JSON value) under ``name``, replacing what was there."""
        ...


def emulation(settings: Settings, default: Emulation) -> Emulation:
    """How to emulate slow mode: the policy's ``slow_mode.emulation`` if it has one, else
    ``default`` (from the adapter's options)."""
    chosen = settings.slow_mode.emulation
    return chosen if chosen in EMULATIONS else default


@dataclass(frozen=True, slots=True)
class RuntimeService:
    """``Service`` over the running runtime, reached through ``Control``."""

    control: Control

    def settings(self, community: str, channel: str) -> Settings:
        return self.control.settings(community, channel)

    def now(self) -> datetime:
        return self.control.now()

    async def load(self, name: str) -> Any:
        return await self.control.recall(name)

    async def save(self, name: str, value: Any) -> None:
        await self.control.remember(name, value)


@dataclass
class MemoryService:
    """``Service`` without a runtime: default settings, the wall clock, memory in a dict."""

    policy: Settings
    saved: dict[str, Any]

    def settings(self, community: str, channel: str) -> Settings:
        return self.policy

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def load(self, name: str) -> Any:
        return self.saved.get(name)

    async def save(self, name: str, value: Any) -> None:
        self.saved[name] = value
