"""The outbox: decisions are written down before they are executed, and executed at least once.

How it works: :meth:`Outbox.enqueue` stores each decision under its idempotency key
(:func:`bot.storage.codec.decision_key`) and appends a ``decided`` audit line in the same
transaction; a key already present is left alone, so re-deciding the same thing never doubles
it. A worker calls :meth:`~Outbox.claim_due` (pending and due -> ``in_flight``, attempts + 1),
executes, then :meth:`~Outbox.mark_done` or :meth:`~Outbox.mark_failed` (with a retry time, or
none for a final failure), or :meth:`~Outbox.record` for a batch of results in one transaction;
each final state appends its audit line in the same transaction (claimed items never attempted go
back with :meth:`~Outbox.release`). After a crash, :meth:`~Outbox.recover` puts ``in_flight``
items back to ``pending``; so a decision can be executed twice if the crash fell between
executing it and recording it, never zero times. A decision
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
from bot.storage.audit import AuditEntry, Provenance, add_entries
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


@dataclass(frozen=True, slots=True)
class Result:
    """One attempt's result, for :meth:`Outbox.record`: a done outcome, or ``failed`` with the
    time to try again (``retry_at``; ``None``: failed for good). ``detail`` goes to the audit
    line (for a failure, also the item's ``last_error``)."""

    item_id: str
    outcome: Outcome
    detail: str = ""
    retry_at: datetime | None = None


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
            raise ValueError(_not_done(outcome))
        with self._sessions.begin() as session:
            _record_in(session, [Result(item_id, outcome, detail)], now, strict=True)

    def mark_failed(
        self, item_id: str, error: str, retry_at: datetime | None, *, now: datetime
    ) -> None:
        """Record a failed attempt: pending again at ``retry_at``, or failed for good if ``None``.

        A final failure appends a ``failed`` audit line whose detail is ``error``. Raises
        :class:`StorageError` unless the item is pending or in flight.
        """
        with self._sessions.begin() as session:
            _record_in(
                session, [Result(item_id, Outcome.FAILED, error, retry_at)], now, strict=True
            )

    def record(self, results: Sequence[Result], *, now: datetime) -> list[str]:
        """Record many attempts' results in one transaction, each as :meth:`mark_done` or
        :meth:`mark_failed` would (audit lines in the order of ``results``).

        Where those would raise (an unknown key, an item already expired or failed, done again
        with a failure), the item is left as it is and its key returned: one stale item must not
        lose the others' results. Raises ValueError for an outcome that is neither a done one nor
        ``failed``.
        """
        with self._sessions.begin() as session:
            return _record_in(session, results, now, strict=False)

    def release(self, keys: Collection[str]) -> int:
        """Put claimed items that were never attempted back to pending (their claim's attempt
        not counted), e.g. the rest of a batch when the executor stops; returns how many."""
        if not keys:
            return 0
        with self._sessions.begin() as session:
            query = select(OutboxRow).where(
                OutboxRow.id.in_(list(keys)), OutboxRow.state == OutboxState.IN_FLIGHT
            )
            rows = list(session.scalars(query.with_for_update()))
            for row in rows:
                row.state = OutboxState.PENDING
                row.attempts = max(row.attempts - 1, 0)
            return len(rows)

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


def _record_in(
    session: Session, results: Sequence[Result], now: datetime, *, strict: bool
) -> list[str]:
    """Apply ``results`` in ``session`` (rows locked, one query); the keys left alone, or with
    ``strict`` the first problem raised as :class:`StorageError`."""
    for result in results:
        if result.outcome not in DONE_OUTCOMES and result.outcome is not Outcome.FAILED:
            raise ValueError(_not_done(result.outcome))
    ids = list(dict.fromkeys(result.item_id for result in results))
    query = select(OutboxRow).where(OutboxRow.id.in_(ids)).with_for_update()
    rows = {row.id: row for row in session.scalars(query)} if ids else {}
    skipped: list[str] = []
    entries: list[AuditEntry] = []
    for result in results:
        row = rows.get(result.item_id)
        problem = _refusal(row, result)
        if problem == "":  # done again: harmless, nothing to do
            continue
        if problem is not None:
            if strict:
                raise StorageError(problem)
            skipped.append(result.item_id)
            continue
        assert row is not None  # _refusal said so
        entry = _apply(row, result, now)
        if entry is not None:
            entries.append(entry)
    add_entries(session, entries)
    return skipped


def _not_done(outcome: Outcome) -> str:
    return f"{outcome!r} is not a done outcome; use one of {sorted(DONE_OUTCOMES)}"


def _refusal(row: OutboxRow | None, result: Result) -> str | None:
    """Why ``result`` cannot be applied to ``row`` (None: it can; "": already done, skip)."""
    if row is None:
        return f"no outbox item {result.item_id!r}"
    if row.state == OutboxState.DONE and result.outcome is not Outcome.FAILED:
        return ""
    if row.state not in (OutboxState.PENDING, OutboxState.IN_FLIGHT):
        return f"outbox item {result.item_id!r} is already {row.state}"
    return None


def _apply(row: OutboxRow, result: Result, now: datetime) -> AuditEntry | None:
    """Change ``row`` as ``result`` says; the audit line of a final state (None for a retry)."""
    if result.outcome is Outcome.FAILED:
        row.last_error = result.detail
        if result.retry_at is not None:
            row.state, row.next_attempt_at = OutboxState.PENDING, result.retry_at
            return None
        state = OutboxState.FAILED
    else:
        state = OutboxState.DONE
    return _finished(row, state, result.outcome, now, result.detail)


def _finished(
    row: OutboxRow, state: OutboxState, outcome: Outcome, now: datetime, detail: str
) -> AuditEntry:
    """Put ``row`` in its final ``state``; the audit line saying so."""
    row.state = state.value
    row.outcome = outcome.value
    return AuditEntry.of(
        codec.decode(row.payload),
        outcome,
        at=now,
        provenance=provenance_of(row),
        detail=detail,
        decision_key=row.id,
    )


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
    entries: list[AuditEntry] = []
    for row in rows:
        detail = f"expired at {row.expires_at:%Y-%m-%dT%H:%M:%SZ} after {row.attempts} attempt(s)"
        if row.last_error:
            detail += f"; last error: {row.last_error}"
        entries.append(_finished(row, OutboxState.EXPIRED, Outcome.EXPIRED, now, detail))
    add_entries(session, entries)
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
