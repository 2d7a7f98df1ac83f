"""What the adapter reads of the running service beyond ``Control``: the policy in force for a
channel, a community's mode, and the service's clock. Read-only; one place, so that the rest of the
adapter never reaches into the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.settings import Settings
from bot.runtime.control import Control


@dataclass(frozen=True, slots=True)
class ServiceView:
    """The service as buttons, commands and the executor need to see it."""

    control: Control

    def settings(self, community: str, channel: str) -> Settings:
        """The effective policy settings in ``channel`` of ``community``."""
        return self.control.settings(community, channel)

    def mode(self, community: str) -> str:
        """``shadow`` or ``live``: what the service does in ``community`` now."""
        return self.control.mode(community)

    def now(self) -> datetime:
        """The service's clock (UTC)."""
        return self.control.now()
