"""The audit log: append and read, nothing else.

How it works: :class:`AuditLog` exposes only :meth:`~AuditLog.append` and reads, which return
frozen :class:`AuditEntry` values, never live ORM rows. Beneath it, two guards: flushing a
changed or deleted ``AuditRow`` raises (mapper events, for every session), and
:func:`guard_audit` makes an engine refuse any UPDATE or DELETE statement on the audit table,
ORM or Core, unless it carries ``execution_options(audit_maintenance=...)``. Only two internal
paths do that: the retention purge (rows older than the audit retention) and ``erase_member``
(replacing a member's id with a salted marker; see ``privacy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Delete, Engine, Table, Update, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.decisions import Decision, recipient
from bot.storage import codec
from bot.storage.errors import StorageError
from bot.storage.schema import AuditRow, Outcome

MAINTENANCE = "audit_maintenance"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a decision was made: the platform, the policy (name and version) and the mode."""

    platform: str
    policy: str
    policy_version: str
    mode: str  # "shadow" or "live", as the policy says


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit line. ``id`` is ``None`` until appended; ``evidence`` is the codec's JSON."""

    at: datetime
    platform: str
    community: str
    channel: str
    thread: str
    kind: str
    signal: str
    message_id: str
    recipient: str | None
    reason: str
    evidence: dict[str, Any]
    severity: int
    outcome: Outcome
    detail: str
    policy: str
    policy_version: str
    mode: str
    decision_key: str | None = None
    id: int | None = None

    @property
    def place(self) -> str:
        """The channel or thread the decision concerned."""
        return self.thread or self.channel

    @classmethod
    def of(
        cls,
        decision: Decision,
        outcome: Outcome,
        *,
        at: datetime,
        provenance: Provenance,
        detail: str = "",
        decision_key: str | None = None,
    ) -> AuditEntry:
        """The entry recording ``outcome`` of ``decision`` at ``at``."""
        encoded = codec.encode(decision)
        conv = decision.conversation
        return cls(
            at=at,
            platform=provenance.platform,
            community=conv.community,
            channel=conv.channel,
            thread=conv.thread,
            kind=codec.kind_name(decision),
            signal=decision.signal.value,
            message_id=decision.message_id,
            recipient=recipient(decision),
            reason=decision.reason,
            evidence=encoded["evidence"],
            severity=decision.severity,
            outcome=Outcome(outcome),
            detail=detail,
            policy=provenance.policy,
            policy_version=provenance.policy_version,
            mode=provenance.mode,
            decision_key=decision_key,
        )


_COLUMNS = [name for name in AuditEntry.__dataclass_fields__ if name != "id"]


def add_entry(session: Session, entry: AuditEntry) -> int:
    """Insert ``entry`` in ``session``'s transaction; returns the new row id."""
    row = AuditRow(**{name: getattr(entry, name) for name in _COLUMNS})
    row.outcome, row.place = Outcome(entry.outcome).value, entry.place
    session.add(row)
    session.flush()
    return row.id


def add_entries(session: Session, entries: list[AuditEntry]) -> None:
    """Insert ``entries`` in ``session``'s transaction, as one multi-row statement."""
    if entries:
        rows = [{**{name: getattr(entry, name) for name in _COLUMNS},
                 "outcome": Outcome(entry.outcome).value, "place": entry.place}
                for entry in entries]  # fmt: skip
        session.connection().execute(insert(cast(Table, AuditRow.__table__)), rows)


def add_entry_once(session: Session, entry: AuditEntry) -> bool:
    """``AuditLog.append_once`` in ``session``'s transaction."""
    query = select(AuditRow.id).where(
        AuditRow.decision_key == entry.decision_key,
        AuditRow.outcome == Outcome(entry.outcome).value,
    )
    if entry.decision_key is not None and session.scalar(query.limit(1)) is not None:
        return False
    add_entry(session, entry)
    return True


def _entry(row: AuditRow) -> AuditEntry:
    values = {name: getattr(row, name) for name in _COLUMNS}
    return AuditEntry(**{**values, "outcome": Outcome(row.outcome)}, id=row.id)


class AuditLog:
    """Append-only access to the ``audit`` table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(self, entry: AuditEntry) -> int:
        """Store ``entry`` (its ``id`` is ignored); returns the id it was given."""
        with self._sessions.begin() as session:
            return add_entry(session, entry)

    def append_once(self, entry: AuditEntry) -> bool:
        """Store ``entry`` unless a line with its decision key and outcome exists; True if stored.

        A decision remade after a restart (the journal replayed) is then recorded once.
        """
        with self._sessions.begin() as session:
            return add_entry_once(session, entry)

    def get(self, audit_id: int) -> AuditEntry | None:
        """The entry with ``audit_id``, or ``None``."""
        with self._sessions() as session:
            row = session.get(AuditRow, audit_id)
            return None if row is None else _entry(row)

    def entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        community: str | None = None,
        message_id: str | None = None,
        decision_key: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Entries matching every filter given, oldest first (by time, then id), at most ``limit``."""
        query = select(AuditRow).order_by(AuditRow.at, AuditRow.id).limit(limit)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        if community is not None:
            query = query.where(AuditRow.community == community)
        if message_id is not None:
            query = query.where(AuditRow.message_id == message_id)
        if decision_key is not None:
            query = query.where(AuditRow.decision_key == decision_key)
        with self._sessions() as session:
            return [_entry(row) for row in session.scalars(query)]


def _refuse_flush(_mapper: object, _connection: object, row: AuditRow) -> None:
    raise StorageError(f"audit row {row.id} is append-only: it cannot be updated or deleted")


def _refuse_statement(
    _connection: object,
    statement: object,
    _multiparams: object,
    _params: object,
    execution_options: dict[str, Any],
) -> None:
    # ``update(AuditRow)`` carries an annotated copy of the table: compare by name.
    if not isinstance(statement, Update | Delete):
        return
    if getattr(statement.table, "name", None) != AuditRow.__tablename__:
        return
    if not (
        execution_options.get(MAINTENANCE) or statement.get_execution_options().get(MAINTENANCE)
    ):
        raise StorageError("the audit is append-only: UPDATE or DELETE of audit rows refused")


def guard_audit(engine: Engine) -> None:
    """Make ``engine`` refuse updates and deletes of audit rows (see the module docstring)."""
    event.listen(engine, "before_execute", _refuse_statement)


# Mapper-level guards are global: no code path may flush a changed or deleted audit row.
event.listen(AuditRow, "before_update", _refuse_flush)
event.listen(AuditRow, "before_delete", _refuse_flush)
