"""What the dashboard serves from: the config, the store, the policies in force and a clock.

Inside ``longform run`` the policies are the running service's (a reload shows at once); alone,
they are loaded from the config. The mode of a community is worked out as the service does: a
moderator's ``/longform mode`` choice (saved in the store), else the config's override, else the
community's, else the policy's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Config
from bot.core.settings import Policy
from bot.dashboard.queries import Queries
from bot.runtime.gateway import CommunityRef
from bot.storage.store import Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


@dataclass
class Site:
    """Everything a page needs; one per dashboard."""

    config: Config
    store: Store
    policies: Callable[[], Mapping[str, Policy]]
    clock: Clock = utc_now
    queries: Queries = field(init=False)

    def __post_init__(self) -> None:
        self.queries = Queries(self.store.sessions, self.config.storage.retention_days)

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure when moderators reach the dashboard over https."""
        return self.config.dashboard.public_url.lower().startswith("https://")

    def policy(self, community: str) -> Policy:
        """The policy in force in ``community``."""
        ref = CommunityRef.of(community)
        configured = self.config.community(ref.platform, ref.id)
        key = configured.policy if configured is not None and configured.policy else ""
        return self.policies()[key]

    def mode(self, community: str) -> str:
        """``shadow`` or ``live`` in ``community`` now."""
        ref = CommunityRef.of(community)
        configured = self.config.community(ref.platform, ref.id)
        saved = self.store.states.load("modes")
        chosen = saved.blob.get(community, "") if saved and isinstance(saved.blob, dict) else ""
        return str(
            chosen
            or self.config.mode
            or (configured.mode if configured else "")
            or self.policy(community).mode
        )

    def name(self, community: str) -> str:
        """The community's name from the config, or its id."""
        ref = CommunityRef.of(community)
        configured = self.config.community(ref.platform, ref.id)
        return configured.name if configured is not None and configured.name else community
