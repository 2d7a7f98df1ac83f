"""What the dashboard's pages read from the store: counts, audit pages, threads and verdicts.

How it works: every query takes the community first and filters on it, so a page can only ever
read the community it was asked for (the web layer checks that the moderator may see it). The
audit is read newest first with keyset paging on ``(at, id)``: the index
``ix_audit_community_at`` makes the first and the thousandth page cost the same. Counts by day
come from ``GROUP BY`` in the database, never from loading rows. Message text is returned only
for messages younger than the retention period, even if the purge has not run yet.

What the words on the overview mean, as counted here: a decision is *noticed* when Longform made
it (its first audit line: ``decided``, or ``suppressed_shadow``/``opted_out`` for one that was
never queued); *done* when the platform carried it out (``sent`` or ``downgraded``); *withheld in
shadow* when shadow mode kept it back; *marked wrong* when a moderator said so.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.events import ConversationKey
from bot.storage.audit import AuditEntry
from bot.storage.records import LoggedMessage
from bot.storage.schema import AuditRow, FeedbackRow, MessageLogRow, Outcome, Verdict

NOTICED = (Outcome.DECIDED, Outcome.SUPPRESSED_SHADOW, Outcome.OPTED_OUT)
DONE = (Outcome.SENT, Outcome.DOWNGRADED)
WITHHELD = (Outcome.SUPPRESSED_SHADOW,)
MEASURES = ("noticed", "done", "withheld in shadow", "marked wrong")
PAGE_SIZE = 50
_AUDIT_COLUMNS = [name for name in AuditEntry.__dataclass_fields__ if name != "id"]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """The audit page's filters; empty strings and ``None`` filter nothing."""

    signal: str = ""
    kind: str = ""
    outcome: str = ""
    channel: str = ""
    member: str = ""
    since: date | None = None
    until: date | None = None  # inclusive: the whole day

    def query(self) -> dict[str, str]:
        """The filters as URL query parameters (only those set)."""
        values = {"signal": self.signal, "kind": self.kind, "outcome": self.outcome,
                  "channel": self.channel, "member": self.member,
                  "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else ""}  # fmt: skip
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the audit, newest first: the ``(at, id)`` of a row."""

    at: datetime
    id: int

    def token(self) -> str:
        """The cursor as it travels in a URL."""
        return f"{self.at.isoformat()}_{self.id}"

    @classmethod
    def parse(cls, token: str) -> Cursor | None:
        """The cursor in ``token``, or ``None`` if it is not one."""
        at, _, number = token.rpartition("_")
        try:
            return cls(datetime.fromisoformat(at), int(number))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of audit rows (newest first) and the cursors to the pages around it."""

    entries: tuple[AuditEntry, ...]
    older: Cursor | None
    newer: Cursor | None


@dataclass
class Overview:
    """One community's last ``days`` days: per measure, per signal, per day."""

    days: list[date]
    counts: dict[str, dict[str, Counter[date]]] = field(default_factory=dict)
    verdicts: dict[str, tuple[int, int]] = field(default_factory=dict)  # signal: (right, wrong)
    latest: AuditEntry | None = None

    def total(self, measure: str, signal: str | None = None) -> int:
        """How many in ``measure`` over the period (one signal, or all)."""
        by_signal = self.counts.get(measure, {})
        chosen = [by_signal.get(signal, Counter())] if signal else list(by_signal.values())
        return sum(sum(counter.values()) for counter in chosen)

    @property
    def signals(self) -> list[str]:
        """Every signal seen in the period or in the verdicts, sorted."""
        found = {s for by_signal in self.counts.values() for s in by_signal} | set(self.verdicts)
        return sorted(found)


class Queries:
    """Read-only queries for the dashboard, over the store's sessions."""

    def __init__(self, sessions: sessionmaker[Session], retention_days: int) -> None:
        self._sessions = sessions
        self.retention_days = retention_days

    # -- overview ---------------------------------------------------------------------------------

    def overview(self, community: str, now: datetime, days: int = 30) -> Overview:
        """Counts by measure, signal and day for the last ``days`` days (today included)."""
        first = (now - timedelta(days=days - 1)).date()
        since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
        result = Overview([first + timedelta(days=i) for i in range(days)])
        with self._sessions() as session:
            day = _day(session, AuditRow.at)
            query = (
                select(day, AuditRow.signal, AuditRow.outcome, func.count())
                .where(AuditRow.community == community, AuditRow.at >= since)
                .group_by(day, AuditRow.signal, AuditRow.outcome)
            )
            for when, signal, outcome, count in session.execute(query):
                for measure in _measures(outcome):
                    counter = result.counts.setdefault(measure, {}).setdefault(signal, Counter())
                    counter[_as_date(when)] += count
            wrong_day = _day(session, FeedbackRow.at)
            wrong = (
                select(wrong_day, FeedbackRow.signal, func.count())
                .where(FeedbackRow.community == community, FeedbackRow.at >= since,
                       FeedbackRow.verdict == Verdict.WRONG.value)
                .group_by(wrong_day, FeedbackRow.signal)
            )  # fmt: skip
            for when, signal, count in session.execute(wrong):
                counter = result.counts.setdefault("marked wrong", {}).setdefault(signal, Counter())
                counter[_as_date(when)] += count
            result.verdicts = _verdicts(session, community)
            latest = session.scalars(
                select(AuditRow)
                .where(AuditRow.community == community)
                .order_by(AuditRow.at.desc(), AuditRow.id.desc())
                .limit(1)
            ).first()
            result.latest = None if latest is None else _entry(latest)
        return result

    # -- the audit --------------------------------------------------------------------------------

    def audit_page(
        self,
        community: str,
        filters: AuditFilter,
        *,
        older_than: Cursor | None = None,
        newer_than: Cursor | None = None,
        size: int = PAGE_SIZE,
    ) -> AuditPage:
        """A page of ``community``'s audit matching ``filters``, newest first."""
        query = select(AuditRow).where(AuditRow.community == community, *_conditions(filters))
        if newer_than is not None:
            query = query.where(_after(newer_than)).order_by(AuditRow.at, AuditRow.id)
        else:
            if older_than is not None:
                query = query.where(_before(older_than))
            query = query.order_by(AuditRow.at.desc(), AuditRow.id.desc())
        with self._sessions() as session:
            rows = [_entry(row) for row in session.scalars(query.limit(size + 1))]
        more = len(rows) > size
        rows = rows[:size]
        if newer_than is not None:
            rows.reverse()
            older, newer = (
                (_cursor(rows[-1]) if rows else None),
                (_cursor(rows[0]) if more else None),
            )
        else:
            older = _cursor(rows[-1]) if more else None
            newer = _cursor(rows[0]) if older_than is not None and rows else None
        return AuditPage(tuple(rows), older, newer)

    def entry(self, community: str, audit_id: int) -> AuditEntry | None:
        """The audit row ``audit_id`` if it belongs to ``community``."""
        with self._sessions() as session:
            row = session.get(AuditRow, audit_id)
            return None if row is None or row.community != community else _entry(row)

    def conversation_entries(
        self, community: str, key: ConversationKey, limit: int = 500
    ) -> list[AuditEntry]:
        """The audit rows about one conversation, oldest first."""
        query = (
            select(AuditRow)
            .where(AuditRow.community == community, AuditRow.channel == key.channel,
                   AuditRow.thread == key.thread)
            .order_by(AuditRow.at, AuditRow.id)
            .limit(limit)
        )  # fmt: skip
        with self._sessions() as session:
            return [_entry(row) for row in session.scalars(query)]

    def choices(self, community: str) -> dict[str, list[str]]:
        """Values seen in ``community``'s audit, for the filter menus."""
        found: dict[str, list[str]] = {}
        with self._sessions() as session:
            for name, column in (("signal", AuditRow.signal), ("kind", AuditRow.kind),
                                 ("channel", AuditRow.channel)):  # fmt: skip
                query = select(column).where(AuditRow.community == community).distinct().limit(200)
                found[name] = sorted(str(v) for v in session.scalars(query))
        found["outcome"] = [str(o) for o in Outcome]
        return found

    # -- messages ---------------------------------------------------------------------------------

    def messages(
        self, community: str, ids: Sequence[str], now: datetime
    ) -> dict[str, LoggedMessage]:
        """The logged messages among ``ids`` in ``community``; text only within retention."""
        if not ids:
            return {}
        query = select(MessageLogRow).where(
            MessageLogRow.community == community, MessageLogRow.message_id.in_(list(ids))
        )
        with self._sessions() as session:
            return {row.message_id: self._logged(row, now) for row in session.scalars(query)}

    def thread_messages(
        self, community: str, key: ConversationKey, now: datetime, limit: int = 1000
    ) -> list[LoggedMessage]:
        """One conversation's logged messages, oldest first; text only within retention."""
        query = (
            select(MessageLogRow)
            .where(MessageLogRow.community == community, MessageLogRow.channel == key.channel,
                   MessageLogRow.thread == key.thread)
            .order_by(MessageLogRow.at, MessageLogRow.message_id)
            .limit(limit)
        )  # fmt: skip
        with self._sessions() as session:
            return [self._logged(row, now) for row in session.scalars(query)]

    def retained(self, community: str, now: datetime, days: int) -> list[LoggedMessage]:
        """``community``'s messages of the last ``days`` days whose text is still kept."""
        since = max(now - timedelta(days=days), self._retention_cutoff(now))
        query = (
            select(MessageLogRow)
            .where(MessageLogRow.community == community, MessageLogRow.at >= since,
                   MessageLogRow.text.is_not(None))
            .order_by(MessageLogRow.at, MessageLogRow.message_id)
        )  # fmt: skip
        with self._sessions() as session:
            return [self._logged(row, now) for row in session.scalars(query)]

    def _retention_cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.retention_days)

    def _logged(self, row: MessageLogRow, now: datetime) -> LoggedMessage:
        kept = self.retention_days > 0 and row.at >= self._retention_cutoff(now)
        return LoggedMessage(
            row.platform, row.message_id, ConversationKey(row.community, row.channel, row.thread),
            row.author, row.at, dict(row.scores or {}), row.text if kept else None,
            row.reply_to, row.reply_to_author, tuple(row.mentions or ()),
        )  # fmt: skip

    # -- feedback ---------------------------------------------------------------------------------

    def verdicts_for(self, community: str, message_ids: Sequence[str]) -> dict[str, list[str]]:
        """The verdicts given on each of ``message_ids`` in ``community``, oldest first."""
        if not message_ids:
            return {}
        query = (
            select(FeedbackRow.message_id, FeedbackRow.verdict)
            .where(FeedbackRow.community == community,
                   FeedbackRow.message_id.in_(list(message_ids)))
            .order_by(FeedbackRow.at, FeedbackRow.id)
        )  # fmt: skip
        found: defaultdict[str, list[str]] = defaultdict(list)
        with self._sessions() as session:
            for message_id, verdict in session.execute(query):
                found[str(message_id)].append(str(verdict))
        return dict(found)

    def decisions(self, community: str, limit: int = 100) -> list[AuditEntry]:
        """The latest decisions made in ``community`` (one line each), newest first."""
        query = (
            select(AuditRow)
            .where(AuditRow.community == community,
                   AuditRow.outcome.in_([o.value for o in NOTICED]))
            .order_by(AuditRow.at.desc(), AuditRow.id.desc())
            .limit(limit)
        )  # fmt: skip
        with self._sessions() as session:
            return [_entry(row) for row in session.scalars(query)]


def _measures(outcome: str) -> list[str]:
    found = []
    if outcome in NOTICED:
        found.append("noticed")
    if outcome in DONE:
        found.append("done")
    if outcome in WITHHELD:
        found.append("withheld in shadow")
    return found


def _verdicts(session: Session, community: str) -> dict[str, tuple[int, int]]:
    query = (
        select(FeedbackRow.signal, FeedbackRow.verdict, func.count())
        .where(FeedbackRow.community == community)
        .group_by(FeedbackRow.signal, FeedbackRow.verdict)
    )
    counts: dict[str, list[int]] = {}
    for signal, verdict, count in session.execute(query):
        pair = counts.setdefault(signal, [0, 0])
        pair[0 if verdict == Verdict.HELPFUL else 1] += count
    return {signal: (right, wrong) for signal, (right, wrong) in counts.items()}


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    # SQLite keeps naive UTC text: date() reads its day. PostgreSQL's timestamptz: the UTC day.
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column)
    return func.date(func.timezone("UTC", column))


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _conditions(filters: AuditFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    for value, column in ((filters.signal, AuditRow.signal), (filters.kind, AuditRow.kind),
                          (filters.outcome, AuditRow.outcome),
                          (filters.channel, AuditRow.channel)):  # fmt: skip
        if value:
            found.append(column == value)
    if filters.member:
        authored = select(MessageLogRow.message_id).where(
            MessageLogRow.author == filters.member,
            MessageLogRow.community == AuditRow.community,
        )
        found.append(or_(AuditRow.recipient == filters.member, AuditRow.message_id.in_(authored)))
    if filters.since is not None:
        found.append(AuditRow.at >= _midnight(filters.since))
    if filters.until is not None:
        found.append(AuditRow.at < _midnight(filters.until + timedelta(days=1)))
    return found


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def _before(cursor: Cursor) -> ColumnElement[bool]:
    return or_(AuditRow.at < cursor.at, and_(AuditRow.at == cursor.at, AuditRow.id < cursor.id))


def _after(cursor: Cursor) -> ColumnElement[bool]:
    return or_(AuditRow.at > cursor.at, and_(AuditRow.at == cursor.at, AuditRow.id > cursor.id))


def _cursor(entry: AuditEntry) -> Cursor:
    assert entry.id is not None
    return Cursor(entry.at, entry.id)


def _entry(row: AuditRow) -> AuditEntry:
    values = {name: getattr(row, name) for name in _AUDIT_COLUMNS}
    return AuditEntry(**{**values, "outcome": Outcome(row.outcome)}, id=row.id)
