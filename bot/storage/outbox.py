"""The outbox: decisions are written down before they are executed, and executed at least once.

How it works: :meth:`Outbox.enqueue` stores each decision under its idempotency key
(:func:`bot.storage.codec.decision_key`) and appends a ``decided`` audit line in the same
transaction; a key already present is left alone, so re-deciding the same thing never doubles
it. A worker calls :meth:`~Outbox.claim_due` (pending and due -> ``in_flight``, attempts + 1),
executes, then :meth:`~Outbox.mark_done` or :meth:`~Outbox.mark_failed` (with a retry time, or
none for a final failure); each final state appends its audit line in the same transaction. After
a crash, :meth:`~Outbox.recover` puts ``in_flight`` items back to ``pending``; so a decision can be
executed twice if the crash fell between executing it and marking it, never zero times. A decision
past its ``expires_at`` is never handed out: it becomes ``expired``, with an audit line.

Expiry: ``decision.at + ttl``; a slow mode also expires at its ``until``; a ``LiftSlowMode`` never
expires, because a slow mode left on would outlive its reason.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.core.decisions import Decision, LiftSlowMode, SetSlowMode
from bot.storage import codec
from bot.storage.audit import AuditEntry, Provenance, add_entries, add_entry
from bot.storage.errors import StorageError
from bot.storage.schema import OutboxRow, OutboxState, Outcome

DEFAULT_TTL = timedelta(hours=1)
DONE_OUTCOMES = frozenset(
    {Outcome.SENT, Outcome.DOWNGRADED, Outcome.SUPPRESSED_SHADOW, Outcome.OPTED_OUT}
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A stored decision and its delivery state."""

    id: str
    decision: Decision
    provenance: Provenance
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    expires_at: datetime | None
    last_error: str | None
    outcome: Outcome | None


@dataclass(frozen=True, slots=True)
class Recovery:
    """What :meth:`Outbox.recover` did: items put back to pending, and items expired."""

    requeued: int
    expired: int


def expiry(decision: Decision, ttl: timedelta) -> datetime | None:
    """When ``decision`` stops being worth executing; ``None`` for never."""
    if isinstance(decision, LiftSlowMode):
        return None
    deadline = decision.at + ttl
    if isinstance(decision, SetSlowMode):
        return min(deadline, decision.until)
    return deadline


class Outbox:
    """Durable, idempotent queue of decisions waiting to be executed."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def enqueue(
        self,
        decisions: Iterable[Decision],
        *,
        now: datetime,
        provenance: Provenance,
        ttl: timedelta = DEFAULT_TTL,
    ) -> list[str]:
        """Store ``decisions``; returns their keys in order (one per decision, repeats included).

        A decision whose key is already stored (in any state) is not stored again and gets no
        second ``decided`` audit line. New items are pending and due at ``now``.
        """
        with self._sessions.begin() as session:
            return enqueue_in(session, decisions, now=now, provenance=provenance, ttl=ttl)

    def claim_due(
        self, now: datetime, limit: int = 10, platforms: Collection[str] | None = None
    ) -> list[OutboxItem]:
        """Up to ``limit`` pending items due at ``now``, oldest due first, now ``in_flight``.

        ``platforms``: only items for these (an executor per platform); None: every platform.

        Each claimed item's ``attempts`` has gone up by one. Pending items already past their
        expiry are expired (with an audit line) instead of claimed. On PostgreSQL, concurrent
        claimers skip each other's rows; on SQLite, transactions are serialised.
        """
        with self._sessions.begin() as session:
            _expire(session, now, (OutboxState.PENDING,))
            query = (
                select(OutboxRow)
                .where(OutboxRow.state == OutboxState.PENDING, OutboxRow.next_attempt_at <= now)
                .where(*_only(platforms))
                .order_by(OutboxRow.next_attempt_at, OutboxRow.created_at, OutboxRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = list(session.scalars(query))
            for row in rows:
                row.state = OutboxState.IN_FLIGHT
                row.attempts += 1
            session.flush()
            return [_item(row) for row in rows]

    def mark_done(
        self, item_id: str, outcome: Outcome = Outcome.SENT, *, now: datetime, detail: str = ""
    ) -> None:
        """Record that ``item_id`` was carried out with ``outcome`` (and append its audit line).

        ``outcome`` is one of sent, downgraded, suppressed_shadow, opted_out. Marking an item
        already done does nothing (so a retried call is harmless); marking an expired or failed
        item raises :class:`StorageError`.
        """
        if outcome not in DONE_OUTCOMES:
            raise ValueError(
                f"{outcome!r} is not a done outcome; use one of {sorted(DONE_OUTCOMES)}"
            )
        with self._sessions.begin() as session:
            row = _locked(session, item_id, also=OutboxState.DONE)
            if row.state == OutboxState.DONE:
                return
            _finish(session, row, OutboxState.DONE, Outcome(outcome), now, detail)

    def mark_failed(
        self, item_id: str, error: str, retry_at: datetime | None, *, now: datetime
    ) -> None:
        """Record a failed attempt: pending again at ``retry_at``, or failed for good if ``None``.

        A final failure appends a ``failed`` audit line whose detail is ``error``. Raises
        :class:`StorageError` unless the item is pending or in flight.
        """
        with self._sessions.begin() as session:
            row = _locked(session, item_id)
            row.last_error = error
            if retry_at is None:
                _finish(session, row, OutboxState.FAILED, Outcome.FAILED, now, error)
            else:
                row.state = OutboxState.PENDING
                row.next_attempt_at = retry_at

    def recover(self, now: datetime, platforms: Collection[str] | None = None) -> Recovery:
        """After a restart: expire what is past its time, put what was in flight back to pending.

        Call once at start-up, before any worker claims; requeued items are due at once.
        ``platforms``: only those items (the restarted executor's platforms); None: all.
        """
        with self._sessions.begin() as session:
            expired = _expire(session, now, (OutboxState.PENDING, OutboxState.IN_FLIGHT))
            query = select(OutboxRow).where(OutboxRow.state == OutboxState.IN_FLIGHT)
            query = query.where(*_only(platforms))
            rows = list(session.scalars(query.with_for_update()))
            for row in rows:
                row.state = OutboxState.PENDING
                row.next_attempt_at = min(row.next_attempt_at, now)
        return Recovery(requeued=len(rows), expired=expired)

    def pending(self) -> int:
        """How many decisions wait to be executed (pending or in flight)."""
        query = (
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.state.in_((OutboxState.PENDING, OutboxState.IN_FLIGHT)))
        )
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def get(self, item_id: str) -> OutboxItem | None:
        """The item stored under ``item_id``, or ``None``."""
        with self._sessions() as session:
            row = session.get(OutboxRow, item_id)
            return None if row is None else _item(row)


def enqueue_in(
    session: Session,
    decisions: Iterable[Decision],
    *,
    now: datetime,
    provenance: Provenance,
    ttl: timedelta = DEFAULT_TTL,
) -> list[str]:
    """``Outbox.enqueue`` in ``session``'s transaction."""
    return enqueue_many(session, [(decision, now, provenance) for decision in decisions], ttl)


def enqueue_many(
    session: Session, items: Sequence[tuple[Decision, datetime, Provenance]], ttl: timedelta
) -> list[str]:
    """Store each (decision, decided at, provenance) as ``Outbox.enqueue`` does, in ``session``'s
    transaction: one multi-row insert that skips the keys already stored, and one insert of the
    ``decided`` audit lines of those that were not. Returns the keys in order."""
    keys: list[str] = []
    rows: dict[str, tuple[Decision, datetime, Provenance, dict[str, Any]]] = {}
    for decision, now, provenance in items:
        key = codec.decision_key(decision, provenance.platform)
        keys.append(key)
        values = _row_values(key, decision, now, provenance, ttl)
        rows.setdefault(key, (decision, now, provenance, values))
    if not rows:
        return keys
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = cast(Table, OutboxRow.__table__)
    statement = insert(table).on_conflict_do_nothing(index_elements=["id"])
    stored = set(
        session.connection()
        .execute(statement.returning(table.c.id), [row[3] for row in rows.values()])
        .scalars()
    )
    add_entries(session, [
        AuditEntry.of(decision, Outcome.DECIDED, at=now, provenance=provenance, decision_key=key)
        for key, (decision, now, provenance, _) in rows.items() if key in stored
    ])  # fmt: skip
    return keys


def _row_values(
    key: str, decision: Decision, now: datetime, provenance: Provenance, ttl: timedelta
) -> dict[str, Any]:
    return {
        "id": key,
        "platform": provenance.platform,
        "kind": codec.kind_name(decision),
        "payload": codec.encode(decision),
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "expires_at": expiry(decision, ttl),
        "last_error": None,
        "outcome": None,
        "policy": provenance.policy,
        "policy_version": provenance.policy_version,
        "mode": provenance.mode,
    }


def _insert_new(session: Session, values: dict[str, Any]) -> bool:
    """Insert unless the key exists (atomically, also against concurrent writers)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(OutboxRow).values(values).on_conflict_do_nothing(index_elements=["id"])
    return session.execute(statement.returning(OutboxRow.id)).first() is not None


def _locked(session: Session, item_id: str, also: OutboxState | None = None) -> OutboxRow:
    """The row, locked; raises unless it is pending, in flight, or in the state ``also``."""
    row = session.get(OutboxRow, item_id, with_for_update=True)
    if row is None:
        raise StorageError(f"no outbox item {item_id!r}")
    if row.state not in (OutboxState.PENDING, OutboxState.IN_FLIGHT, also):
        raise StorageError(f"outbox item {item_id!r} is already {row.state}")
    return row


def _finish(
    session: Session,
    row: OutboxRow,
    state: OutboxState,
    outcome: Outcome,
    now: datetime,
    detail: str,
) -> None:
    row.state = state.value
    row.outcome = outcome.value
    entry = AuditEntry.of(
        codec.decode(row.payload),
        outcome,
        at=now,
        provenance=provenance_of(row),
        detail=detail,
        decision_key=row.id,
    )
    add_entry(session, entry)


def _only(platforms: Collection[str] | None) -> list[ColumnElement[bool]]:
    """The filter keeping items of ``platforms`` (none when every platform is wanted)."""
    return [] if platforms is None else [OutboxRow.platform.in_(list(platforms))]


def _expire(session: Session, now: datetime, states: tuple[OutboxState, ...]) -> int:
    query = select(OutboxRow).where(
        OutboxRow.state.in_([s.value for s in states]),
        OutboxRow.expires_at.is_not(None),
        OutboxRow.expires_at <= now,
    )
    rows = list(session.scalars(query.with_for_update(skip_locked=True)))
    for row in rows:
        detail = f"expired at {row.expires_at:%Y-%m-%dT%H:%M:%SZ} after {row.attempts} attempt(s)"
        if row.last_error:
            detail += f"; last error: {row.last_error}"
        _finish(session, row, OutboxState.EXPIRED, Outcome.EXPIRED, now, detail)
    return len(rows)


def provenance_of(row: OutboxRow) -> Provenance:
    """The provenance stored with an outbox row."""
    return Provenance(row.platform, row.policy, row.policy_version, row.mode)


def _item(row: OutboxRow) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        decision=codec.decode(row.payload),
        provenance=provenance_of(row),
        state=OutboxState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_error=row.last_error,
        outcome=None if row.outcome is None else Outcome(row.outcome),
    )
