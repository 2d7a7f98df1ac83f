"""The dashboard's queries on a year of audit rows: 1,000,000 rows, 20 communities, 365 days.

    python benchmarks/dashboard.py [--rows 1000000] [--database /tmp/longform-bench.db]

Fills a SQLite database (migrated to head) with synthetic audit rows (signals, kinds and outcomes
in realistic proportions; one community holds a tenth of them), then times what the pages run:
the overview's counts for 30 days, the first audit page, the hundredth page (by cursor), a
filtered page, a member's page. Each is timed with the dashboard's indexes and again with them
dropped (what the schema had before migration 0004). Not a test: numbers go in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from bot.dashboard.queries import AuditFilter, Queries
from bot.storage.schema import AuditRow
from bot.storage.store import Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BIG = "discord:1000"
SIGNALS = ("pile_on", "ad_hominem", "escalation", "long_exchange")
KINDS = ("alert_moderators", "post_notice", "prompt_member", "set_slow_mode")
OUTCOMES = ("decided", "sent", "sent", "suppressed_shadow", "failed", "downgraded")
DASHBOARD_INDEXES = ("ix_audit_community_at", "ix_audit_community_message")


def fill(store: Store, rows: int, seed: int = 1) -> None:
    """``rows`` audit rows over the last 365 days, in batches."""
    chance = random.Random(seed)
    communities = [BIG] * 2 + [f"discord:{2000 + i}" for i in range(19)]
    batch: list[dict[str, object]] = []
    with store.engine.begin() as connection:
        for i in range(rows):
            batch.append({
                "at": NOW - timedelta(seconds=chance.randrange(365 * 86400)),
                "platform": "discord", "community": communities[i % len(communities)],
                "channel": f"c{chance.randrange(12)}", "thread": f"t{chance.randrange(400)}",
                "place": "", "kind": chance.choice(KINDS), "signal": chance.choice(SIGNALS),
                "message_id": f"m{i}", "recipient": f"u{chance.randrange(5000)}",
                "reason": "3 people replied to a member within 4 minutes.",
                "evidence": {"message_ids": [f"m{i}"]}, "severity": 2,
                "outcome": chance.choice(OUTCOMES), "detail": "", "policy": "professional",
                "policy_version": "v1", "mode": "live", "decision_key": None,
            })  # fmt: skip
            if len(batch) == 50_000:
                connection.execute(insert(AuditRow), batch)
                batch.clear()
        if batch:
            connection.execute(insert(AuditRow), batch)
        connection.execute(text("ANALYZE"))


def timed(work: Callable[[], object], repeat: int = 5) -> float:
    """The median wall time of ``work`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(queries: Queries) -> dict[str, float]:
    """Each page's query, timed."""
    first = queries.audit_page(BIG, AuditFilter())
    cursor = first.older
    for _ in range(99):
        further = queries.audit_page(BIG, AuditFilter(), older_than=cursor).older
        if further is None:  # a small run has fewer pages
            break
        cursor = further
    filters = AuditFilter(signal="pile_on", outcome="failed", channel="c3")
    return {
        "overview (30 days of counts)": timed(lambda: queries.overview(BIG, NOW)),
        "audit, first page": timed(lambda: queries.audit_page(BIG, AuditFilter())),
        "audit, 100th page (cursor)": timed(
            lambda: queries.audit_page(BIG, AuditFilter(), older_than=cursor)
        ),
        "audit, signal+outcome+channel": timed(lambda: queries.audit_page(BIG, filters)),
        "audit, one member": timed(lambda: queries.audit_page(BIG, AuditFilter(member="u42"))),
        "audit, one week": timed(
            lambda: queries.audit_page(
                BIG, AuditFilter(since=(NOW - timedelta(days=7)).date(), until=NOW.date())
            )
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", type=Path, default=Path("/tmp/longform-bench.db"))
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.database}{suffix}").unlink(missing_ok=True)
    store = Store.open(str(args.database))
    start = time.perf_counter()
    fill(store, args.rows)
    print(f"filled {args.rows:,} audit rows in {time.perf_counter() - start:.0f} s")
    queries = Queries(store.sessions, retention_days=30)
    with_indexes = measure(queries)
    with store.engine.begin() as connection:
        for name in DASHBOARD_INDEXES:
            connection.execute(text(f"DROP INDEX {name}"))
    without = measure(queries)
    print(f"{'query':34} {'with indexes':>14} {'without (0003)':>16}")
    for name, ms in with_indexes.items():
        print(f"{name:34} {ms:11.1f} ms {without[name]:13.1f} ms")
    store.close()


if __name__ == "__main__":
    main()
