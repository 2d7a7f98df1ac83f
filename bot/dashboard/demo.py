"""Demo data for the dashboard: the bundled conversations, replayed into a store as if served.

How it works: each demo conversation is replayed several times over the last weeks (ids and
threads made unique per copy, times shifted), through the engine with the given policy. Its
messages go to the message log with their scores, as the service logs them; each decision goes
through the real outbox (a ``decided`` audit line) and is marked done, or is recorded as withheld
in shadow mode for communities in shadow. A few verdicts are added as moderators would. Used by
``scripts/screenshots.py`` and the browser tests, never by the service.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from adapters.replay.runner import load
from bot.core.decisions import AlertModerators, Decision
from bot.core.engine import Engine
from bot.core.events import Event, MemberJoined, MessageDeleted, MessageEdited, MessagePosted
from bot.core.settings import Policy
from bot.runtime.service import policy_version
from bot.scoring.embedded import EmbeddedScorer
from bot.storage.audit import AuditEntry, Provenance
from bot.storage.schema import Outcome, Verdict
from bot.storage.store import Store

DEMO = Path(__file__).resolve().parents[1] / "demo"
PLATFORM = "replay"
# Copies of each conversation: days before ``now`` at which each copy ends.
COPIES = (0, 2, 5, 9, 14, 20, 27)


def community_id(name: str) -> str:
    """The core community id of a demo community (the file platform's)."""
    return f"{PLATFORM}:{name}"


def seed(store: Store, policy: Policy, now: datetime, shadow: frozenset[str] = frozenset()) -> int:
    """Replay every demo conversation into ``store``; returns how many audit lines it wrote.

    ``shadow``: community ids (``replay:<name>``) whose decisions are withheld in shadow mode.
    """
    scorer = EmbeddedScorer()
    written = 0
    for path in sorted(DEMO.glob("0*.jsonl")):
        events, _ = load([path])
        last = max(event.at for event in events)
        for copy, days_ago in enumerate(COPIES):
            shift = now - timedelta(days=days_ago, minutes=37 * copy + 5) - last
            moved = [_moved(event, shift, copy) for event in events]
            written += _serve(store, Engine(policy, scorer), scorer, moved, policy, shadow)
    _verdicts(store, now)
    return written


def _moved(event: Event, shift: timedelta, copy: int) -> Event:
    suffix = "" if copy == 0 else f"-{copy}"
    if isinstance(event, MessagePosted):
        return replace(event, id=event.id + suffix, at=event.at + shift,
                       community=community_id(event.community),
                       thread=(event.thread + suffix) if event.thread else "",
                       channel=event.channel if event.thread else event.channel + suffix,
                       reply_to=event.reply_to + suffix if event.reply_to else None)  # fmt: skip
    if isinstance(event, MemberJoined):
        return replace(event, at=event.at + shift, community=community_id(event.community))
    if isinstance(event, MessageEdited | MessageDeleted):
        return replace(event, id=event.id + suffix, at=event.at + shift)
    return event


def _serve(
    store: Store,
    engine: Engine,
    scorer: EmbeddedScorer,
    events: list[Event],
    policy: Policy,
    shadow: frozenset[str],
) -> int:
    written = 0
    for event in events:
        scores = None
        if isinstance(event, MessagePosted):
            scores = scorer.score([event.text])[0]
            store.messages.record(PLATFORM, event, scores)
        decided = engine.tick(event.at).actions + engine.feed(event, scores).actions
        for action in decided:
            written += _record(store, action, policy, shadow)
    return written


def _record(store: Store, action: Decision, policy: Policy, shadow: frozenset[str]) -> int:
    community = action.conversation.community
    mode = "shadow" if community in shadow else "live"
    provenance = Provenance(PLATFORM, policy.name, policy_version(policy), mode)
    at = action.at + timedelta(seconds=1)
    if mode == "shadow" and not isinstance(action, AlertModerators):
        store.audit.append(AuditEntry.of(action, Outcome.SUPPRESSED_SHADOW, at=at,
                                         provenance=provenance))  # fmt: skip
        return 1
    [key] = store.outbox.enqueue([action], now=at, provenance=provenance, ttl=timedelta(days=400))
    store.outbox.claim_due(at + timedelta(seconds=1), limit=100)
    store.outbox.mark_done(key, now=at + timedelta(seconds=2))
    return 2


def _verdicts(store: Store, now: datetime) -> None:
    """Moderators judged some alerts: most right, a few wrong."""
    alerts = [e for e in store.audit.entries(limit=100_000)
              if e.kind == "alert_moderators" and e.outcome == Outcome.SENT]  # fmt: skip
    for index, entry in enumerate(alerts):
        if index % 3 == 2:
            continue  # not every alert is judged
        verdict = Verdict.WRONG if index % 5 == 4 else Verdict.HELPFUL
        store.feedback.add(entry.platform, entry.signal, verdict, by="demo-moderator",
                           at=min(now, entry.at + timedelta(minutes=20)), audit_id=entry.id,
                           message_id=entry.message_id, community=entry.community)  # fmt: skip
