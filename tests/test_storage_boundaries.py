"""The store's time boundaries and delivery bookkeeping, each at its edge: an outbox item is due
exactly at its next attempt, expires exactly at its expiry, is claimed oldest first and at most
``limit`` at a time; recovery never pushes an item later; retention keeps what is exactly at its
cutoff. On SQLite and, when LONGFORM_TEST_POSTGRES_URL is set, PostgreSQL (the fixtures of
test_storage.py).

Written for mutation testing (issue 18): each test fails under an off-by-one (``<`` for ``<=``) or a
dropped line in bot/storage that the older tests let pass.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.decisions import LiftSlowMode, SetSlowMode, Signal
from bot.storage import OutboxState, Outcome, StorageError, Store
from bot.storage.outbox import DEFAULT_TTL, expiry
from tests import test_storage
from tests.builders import MIN, T0, message
from tests.test_storage import DAY, EV, HERE, LIVE, notice, prompt

# The store fixtures of test_storage.py (SQLite, and PostgreSQL when it is configured).
database_url = test_storage.database_url
store = test_storage.store

US = timedelta(microseconds=1)
SEC = timedelta(seconds=1)


# -- outbox: due, order, limit, attempts ---------------------------------------------------------


def test_an_item_is_due_exactly_at_its_next_attempt_and_not_a_moment_before(store: Store) -> None:
    [key] = store.outbox.enqueue([notice()], now=T0, provenance=LIVE)
    claimed = store.outbox.claim_due(T0)
    assert [item.id for item in claimed] == [key]
    store.outbox.mark_failed(key, "rate limited", T0 + MIN, now=T0)
    assert store.outbox.claim_due(T0 + MIN - US) == []
    again = store.outbox.claim_due(T0 + MIN)
    assert [(item.id, item.attempts) for item in again] == [(key, 2)]


def test_claims_take_the_oldest_due_first_and_at_most_limit(store: Store) -> None:
    keys = [store.outbox.enqueue([notice(f"m{i}")], now=T0 + i * SEC, provenance=LIVE)[0]
            for i in range(5)]  # fmt: skip
    first = store.outbox.claim_due(T0 + MIN, limit=2)
    assert [item.id for item in first] == keys[:2]
    assert all(item.state is OutboxState.IN_FLIGHT for item in first)
    rest = store.outbox.claim_due(T0 + MIN, limit=10)
    assert [item.id for item in rest] == keys[2:]
    assert store.outbox.claim_due(T0 + MIN) == []
    assert store.outbox.pending() == 5  # in flight still counts as waiting


def test_a_retried_item_keeps_its_error_and_a_final_failure_is_audited(store: Store) -> None:
    [key] = store.outbox.enqueue([notice()], now=T0, provenance=LIVE)
    store.outbox.claim_due(T0)
    store.outbox.mark_failed(key, "HTTP 502", T0 + MIN, now=T0)
    item = store.outbox.get(key)
    assert item is not None
    assert (item.state, item.next_attempt_at, item.last_error) == (
        OutboxState.PENDING, T0 + MIN, "HTTP 502"
    )  # fmt: skip
    store.outbox.claim_due(T0 + MIN)
    store.outbox.mark_failed(key, "HTTP 403 forbidden", None, now=T0 + MIN)
    item = store.outbox.get(key)
    assert item is not None
    assert (item.state, item.outcome) == (OutboxState.FAILED, Outcome.FAILED)
    failed = [e for e in store.audit.entries(decision_key=key) if e.outcome is Outcome.FAILED]
    assert [(e.detail, e.at) for e in failed] == [("HTTP 403 forbidden", T0 + MIN)]
    assert store.outbox.pending() == 0
    with pytest.raises(StorageError, match=r"is already failed"):
        store.outbox.mark_done(key, now=T0 + MIN)


def test_done_needs_a_done_outcome_and_an_item_that_exists(store: Store) -> None:
    [key] = store.outbox.enqueue([notice()], now=T0, provenance=LIVE)
    with pytest.raises(ValueError, match=r"is not a done outcome"):
        store.outbox.mark_done(key, Outcome.FAILED, now=T0)
    with pytest.raises(StorageError, match=r"no outbox item 'nope'"):
        store.outbox.mark_done("nope", now=T0)
    store.outbox.mark_done(key, Outcome.DOWNGRADED, now=T0, detail="alerted instead")
    item = store.outbox.get(key)
    assert item is not None
    assert (item.state, item.outcome) == (OutboxState.DONE, Outcome.DOWNGRADED)
    done = [e for e in store.audit.entries(decision_key=key) if e.outcome is Outcome.DOWNGRADED]
    assert [e.detail for e in done] == ["alerted instead"]


# -- outbox: expiry ------------------------------------------------------------------------------


def test_a_decision_expires_exactly_at_its_ttl(store: Store) -> None:
    ttl = 10 * MIN
    [late] = store.outbox.enqueue([notice("m1")], now=T0, provenance=LIVE, ttl=ttl)
    [kept] = store.outbox.enqueue([notice("m2", at=T0 + US)], now=T0, provenance=LIVE, ttl=ttl)
    claimed = store.outbox.claim_due(T0 + ttl)
    assert [item.id for item in claimed] == [kept]  # m2 expires one microsecond later
    item = store.outbox.get(late)
    assert item is not None
    assert (item.state, item.outcome, item.expires_at) == (
        OutboxState.EXPIRED, Outcome.EXPIRED, T0 + ttl
    )  # fmt: skip


def test_expiry_is_audited_with_the_attempts_and_the_last_error(store: Store) -> None:
    [key] = store.outbox.enqueue([notice()], now=T0, provenance=LIVE, ttl=10 * MIN)
    store.outbox.claim_due(T0)
    store.outbox.mark_failed(key, "HTTP 429", T0 + 20 * MIN, now=T0)
    assert store.outbox.claim_due(T0 + 20 * MIN) == []
    (entry,) = [e for e in store.audit.entries(decision_key=key) if e.outcome is Outcome.EXPIRED]
    assert (
        entry.detail == "expired at 2026-03-02T14:10:00Z after 1 attempt(s); last error: HTTP 429"
    )
    assert entry.at == T0 + 20 * MIN
    [quiet] = store.outbox.enqueue([notice("m3")], now=T0, provenance=LIVE, ttl=MIN)
    store.outbox.claim_due(T0 + 2 * MIN)
    (entry,) = [e for e in store.audit.entries(decision_key=quiet) if e.outcome is Outcome.EXPIRED]
    assert entry.detail == "expired at 2026-03-02T14:01:00Z after 0 attempt(s)"


def test_expiry_is_the_ttl_the_end_of_a_slow_mode_or_never_for_a_lift() -> None:
    assert expiry(notice(at=T0), DEFAULT_TTL) == T0 + timedelta(hours=1)
    short = SetSlowMode(HERE, "m1", T0, Signal.ESCALATION, "r", EV, seconds=30, until=T0 + 5 * MIN)
    assert expiry(short, DEFAULT_TTL) == T0 + 5 * MIN
    long = SetSlowMode(HERE, "m1", T0, Signal.ESCALATION, "r", EV, seconds=30, until=T0 + 5 * DAY)
    assert expiry(long, DEFAULT_TTL) == T0 + DEFAULT_TTL
    lift = LiftSlowMode(HERE, "m1", T0, Signal.ESCALATION, "done", EV)
    assert expiry(lift, DEFAULT_TTL) is None


# -- outbox: recovery ------------------------------------------------------------------------------


def test_recovery_requeues_in_flight_items_due_at_once_and_expires_the_stale(store: Store) -> None:
    [waiting] = store.outbox.enqueue([notice("m1")], now=T0, provenance=LIVE)
    store.outbox.claim_due(T0)  # in flight when the service stopped
    [stale] = store.outbox.enqueue([notice("m2")], now=T0, provenance=LIVE, ttl=MIN)
    [later] = store.outbox.enqueue([notice("m3", at=T0 + 5 * MIN)], now=T0 + 5 * MIN,
                                   provenance=LIVE)  # fmt: skip
    recovery = store.outbox.recover(T0 + 5 * MIN)
    assert (recovery.requeued, recovery.expired) == (1, 1)
    item = store.outbox.get(waiting)
    assert item is not None
    assert (item.state, item.next_attempt_at, item.attempts) == (OutboxState.PENDING, T0, 1)
    assert store.outbox.get(stale).state is OutboxState.EXPIRED  # type: ignore[union-attr]
    assert store.outbox.get(later).state is OutboxState.PENDING  # type: ignore[union-attr]
    assert store.outbox.recover(T0 + 5 * MIN) == type(recovery)(requeued=0, expired=0)


def test_enqueue_returns_a_key_per_decision_and_audits_each_once(store: Store) -> None:
    keys = store.outbox.enqueue([notice("m1"), notice("m1"), prompt()], now=T0, provenance=LIVE)
    assert keys[0] == keys[1] != keys[2]
    assert store.outbox.pending() == 2
    decided = [e.decision_key for e in store.audit.entries() if e.outcome is Outcome.DECIDED]
    assert sorted(decided) == sorted({keys[0], keys[2]})  # type: ignore[type-var]
    item = store.outbox.get(keys[2])
    assert item is not None
    assert (item.attempts, item.next_attempt_at, item.created_at) == (0, T0, T0)
    assert item.provenance == LIVE


# -- retention --------------------------------------------------------------------------------------


def test_retention_keeps_text_exactly_at_its_cutoff_and_drops_older(store: Store) -> None:
    at_cutoff = message("ana", "kept", T0)
    older = message("bo", "dropped", T0 - SEC)
    store.messages.record("discord", at_cutoff, {})
    store.messages.record("discord", older, {})
    report = store.purge(T0 + 30 * DAY, retention_days=30)
    assert report.texts_dropped == 1
    assert store.messages.get("discord", at_cutoff.id).text == "kept"  # type: ignore[union-attr]
    assert store.messages.get("discord", older.id).text is None  # type: ignore[union-attr]
    assert store.purge(T0 + 30 * DAY, retention_days=30).texts_dropped == 0  # once


def test_retention_deletes_only_finished_outbox_items_past_the_cutoff(store: Store) -> None:
    [done] = store.outbox.enqueue([notice("m1")], now=T0 - SEC, provenance=LIVE)
    store.outbox.mark_done(done, now=T0)
    [edge] = store.outbox.enqueue([notice("m2")], now=T0, provenance=LIVE)
    store.outbox.mark_done(edge, now=T0)
    [waiting] = store.outbox.enqueue([LiftSlowMode(HERE, "m3", T0 - DAY, Signal.ESCALATION,
                                                   "done", EV)], now=T0 - DAY, provenance=LIVE)  # fmt: skip
    report = store.purge(T0 + 7 * DAY, retention_days=7)
    assert report.outbox_deleted == 1
    assert store.outbox.get(done) is None
    assert store.outbox.get(edge) is not None
    assert store.outbox.get(waiting) is not None  # never finished: kept however old


def test_audit_retention_keeps_rows_exactly_at_its_cutoff(store: Store) -> None:
    store.outbox.enqueue([notice("m1")], now=T0 - SEC, provenance=LIVE)
    store.outbox.enqueue([notice("m2")], now=T0, provenance=LIVE)
    report = store.purge(T0 + 10 * DAY, 30, audit_retention_days=10)
    assert report.audit_deleted == 1
    assert [e.message_id for e in store.audit.entries()] == ["m2"]
    assert store.purge(T0 + 10 * DAY, 30, audit_retention_days=0).audit_deleted == 1


def test_negative_retention_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match=r"retention days must be zero or more"):
        store.purge(T0, -1)
    with pytest.raises(ValueError, match=r"retention days must be zero or more"):
        store.purge(T0, 30, audit_retention_days=-1)


def test_claims_follow_the_next_attempt_not_the_order_of_creation(store: Store) -> None:
    [first] = store.outbox.enqueue([notice("m1")], now=T0, provenance=LIVE)
    store.outbox.claim_due(T0)
    store.outbox.mark_failed(first, "HTTP 502", T0 + 2 * MIN, now=T0)  # retried later
    [second] = store.outbox.enqueue([notice("m2")], now=T0 + MIN, provenance=LIVE)
    claimed = store.outbox.claim_due(T0 + 3 * MIN)
    assert [item.id for item in claimed] == [second, first]


def test_erasure_counts_the_outbox_items_it_changed(store: Store) -> None:
    store.outbox.enqueue([prompt(member="ana"), notice("m3")], now=T0, provenance=LIVE)
    erased = store.erase_member("discord", "ana", now=T0 + MIN)
    assert erased.outbox_items_changed == 1
    assert store.outbox.pending() == 1  # the prompt to ana is gone; the notice stays
