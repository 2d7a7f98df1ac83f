"""Helpers for running the real service in tests: configs, and demo events moved to now."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.runtime.platform import ActionResult

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo"


def recent_lines(name: str, end: datetime | None = None) -> list[str]:
    """A bundled conversation as JSONL lines, shifted so that its last event happens at ``end``."""
    records = [json.loads(line) for line in (DEMO / name).read_text().splitlines() if line.strip()]
    last = max(datetime.fromisoformat(r["ts"]) for r in records)
    shift = (end or datetime.now(UTC)) - last
    for record in records:
        record["ts"] = (datetime.fromisoformat(record["ts"]) + shift).isoformat()
    return [json.dumps(record) + "\n" for record in records]


def service_config(tmp_path: Path, **sections: Any) -> Config:
    """A live config serving the file platform in ``tmp_path`` (made if need be), with
    ``sections`` merged in."""
    tmp_path.mkdir(parents=True, exist_ok=True)  # the service refuses a database in no directory
    raw: dict[str, Any] = {
        "policy": "strict",
        "mode": "live",
        "storage": {"url": f"sqlite:///{tmp_path / 'longform.db'}"},
        "replay": {"enabled": True, "inbox": str(tmp_path / "inbox.jsonl"),
                   "actions": str(tmp_path / "actions.jsonl")},
        "scheduler": {"tick_seconds": 3600, "snapshot_seconds": 3600},
        # These tests are about the service loop; the sentence tier has its own tests.
        "scoring": {"sentence_tier": "off"},
    }  # fmt: skip
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    return Config.model_validate(raw)


def actions(tmp_path: Path) -> list[dict[str, Any]]:
    """What the file platform was asked to do, in order."""
    path = tmp_path / "actions.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


class QuietPlatform:
    """The parts of a platform adapter a test of the executor does not look at: it starts and
    stops at once and posts moderators' digests and reminders successfully. Subclasses define
    ``execute``."""

    platform = "replay"

    async def start(self, sink: object, control: object) -> None: ...
    async def stop(self) -> None: ...
    async def post_to_moderators(self, community: str, text: str) -> ActionResult:
        return ActionResult.sent()

    async def remind_longform(self, community: str, reference: str, text: str) -> ActionResult:
        return ActionResult.sent()
