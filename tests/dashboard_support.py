"""Helpers for dashboard tests: a store with two communities' decisions, a movable clock, a
signed-in HTTP client."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from bot.config import Config
from bot.core.events import MessagePosted
from bot.dashboard.app import create_app
from bot.dashboard.context import Site
from bot.policy.loader import load_policy
from bot.storage.audit import AuditEntry
from bot.storage.schema import Outcome
from bot.storage.store import Store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
A, B = "discord:111", "discord:222"
SECRET_TEXT = "Typical GP, no idea what walks into ED two days later."
OTHER_TEXT = "A message only community B's moderators may read."


@dataclass
class Clock:
    """A clock the test moves."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


def config(tmp_path: Path, **dashboard: Any) -> Config:
    """Two Discord communities and the dashboard enabled."""
    return Config.model_validate(
        {
            "policy": "professional",
            "mode": "live",
            "storage": {"url": f"sqlite:///{tmp_path / 'longform.db'}", "retention_days": 30},
            "discord": {"enabled": True},
            "dashboard": {"enabled": True, **dashboard},
            "communities": [
                {"platform": "discord", "id": "111", "moderators": "9", "name": "Clinicians"},
                {"platform": "discord", "id": "222", "moderators": "9", "name": "Other place"},
            ],
        }
    )


def message(
    mid: str,
    author: str,
    text: str,
    at: datetime,
    community: str = A,
    reply_to: str | None = None,
    mentions: tuple[str, ...] = (),
) -> MessagePosted:
    return MessagePosted(
        mid, at, community, "general", author, text, "t1", reply_to, None, mentions
    )


def entry(
    community: str,
    mid: str,
    at: datetime,
    *,
    signal: str = "pile_on",
    kind: str = "alert_moderators",
    outcome: Outcome = Outcome.DECIDED,
    evidence: tuple[str, ...] = (),
    recipient: str | None = None,
    reason: str = "3 people replied to ana within 4 minutes.",
) -> AuditEntry:
    return AuditEntry(
        at=at,
        platform="discord",
        community=community,
        channel="general",
        thread="t1",
        kind=kind,
        signal=signal,
        message_id=mid,
        recipient=recipient,
        reason=reason,
        evidence={"message_ids": list(evidence or (mid,)), "scores": [["pile_on", 0.72]]},
        severity=2,
        outcome=outcome,
        detail="",
        policy="professional",
        policy_version="v1",
        mode="live",
    )


def fill(store: Store) -> dict[str, int]:
    """A pile-on on ana in A (messages, decisions, outcomes), and one decision in B."""
    start = NOW - timedelta(hours=2)
    posts = [
        message("m1", "ana", "For viral coughs I give no antibiotics.", start),
        message("m2", "ben", "Did you even finish residency?", start + MIN, reply_to="m1"),
        message(
            "m3",
            "eve",
            "People like you are why patients don't trust doctors.",
            start + 2 * MIN,
            reply_to="m1",
        ),
        message("m4", "finn", SECRET_TEXT, start + 3 * MIN, reply_to="m1", mentions=("ana",)),
        message("x1", "zed", OTHER_TEXT, start, community=B),
    ]
    for post in posts:
        store.messages.record("discord", post, {"toxicity": 0.6, "insult": 0.5, "attack": 0.4})
    ids = {
        "alert": store.audit.append(entry(A, "m4", start + 3 * MIN, evidence=("m2", "m3", "m4"))),
        "sent": store.audit.append(
            entry(A, "m4", start + 4 * MIN, outcome=Outcome.SENT, evidence=("m2", "m3", "m4"))
        ),
        "prompt": store.audit.append(
            entry(
                A,
                "m4",
                start + 3 * MIN,
                kind="prompt_member",
                outcome=Outcome.SUPPRESSED_SHADOW,
                recipient="ana",
                evidence=("m2", "m3", "m4"),
            )
        ),
        "b": store.audit.append(
            entry(B, "x1", start, signal="ad_hominem", reason="A reply about zed's target.")
        ),
    }
    return ids


@dataclass
class Dashboard:
    """The app over a filled store, with a test client and the clock."""

    store: Store
    site: Site
    client: TestClient
    clock: Clock
    ids: dict[str, int] = field(default_factory=dict)

    def link(self, communities: tuple[str, ...] = (A,), member: str = "mo") -> str:
        """A fresh one-time link token for ``member``."""
        return self.store.signins.issue("discord", member, communities, now=self.clock(), name="Mo")

    def sign_in(self, token: str | None = None) -> Any:
        """Follow a link as a browser would: open it, press "Sign in"."""
        token = token or self.link()
        form = self.client.get(f"/signin?token={token}")
        visit = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert visit is not None
        return self.client.post("/signin", data={"token": token, "csrf": visit[1]})

    def csrf(self, path: str) -> str:
        """The CSRF token in the forms of the page at ``path``."""
        found = re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text)
        assert found is not None
        return found[1]


def dashboard(tmp_path: Path, **settings: Any) -> Dashboard:
    """A dashboard over a filled store in ``tmp_path``."""
    cfg = config(tmp_path, **settings)
    store = Store.open(cfg.storage.url)
    ids = fill(store)
    clock = Clock()
    policy = load_policy("professional")
    site = Site(cfg, store, lambda: {"": policy}, clock)
    client = TestClient(create_app(site), base_url="http://127.0.0.1", follow_redirects=False)
    return Dashboard(store, site, client, clock, ids)
