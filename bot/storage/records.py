"""Small repositories: engine snapshots, member preferences, the message log and feedback.

Each method runs in its own transaction and returns plain values or frozen dataclasses, never
live ORM rows, so callers (often in a worker thread) cannot change the database by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.core.events import ConversationKey, MessagePosted
from bot.storage.schema import EngineStateRow, FeedbackRow, MemberPrefRow, MessageLogRow, Verdict

ALL_COMMUNITIES = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A saved engine state: ``blob`` is the JSON value that was saved under ``key``."""

    key: str
    version: int
    saved_at: datetime
    blob: Any


_STATE_VALUES: dict[str, Any] = {name: bindparam(name) for name in ("version", "saved_at", "blob")}
_UPDATE_STATE = (
    update(EngineStateRow).where(EngineStateRow.key == bindparam("row_key")).values(_STATE_VALUES)
)
_INSERT_STATE = insert(EngineStateRow).values(key=bindparam("row_key"), **_STATE_VALUES)


class EngineStates:
    """Named JSON snapshots, one per key; saving again replaces the previous one."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def save(self, key: str, blob: Any, *, version: int, now: datetime) -> None:
        """Store ``blob`` (any JSON value) as the snapshot ``key``, replacing any earlier one."""
        # Core statements, not an ORM row: loading the row to change it parsed the previous
        # snapshot back into Python objects (hundreds of MiB at 100,000 messages) only to drop it.
        # The values are bound at execution, not written into the statement: SQLAlchemy's
        # statement cache keeps the first statement of each shape, and with it any value built
        # in, so one snapshot (tens of MiB) stayed alive for good (measured).
        values = {"row_key": key, "version": version, "saved_at": now, "blob": blob}
        engine = self._sessions.kw["bind"]
        with engine.connect() as connection:
            with connection.begin():
                changed = connection.execute(_UPDATE_STATE, values)
                if not changed.rowcount:
                    connection.execute(_INSERT_STATE, values)
            if connection.dialect.name == "sqlite" and not isinstance(engine.pool, StaticPool):
                # The sqlite3 module keeps a statement's last bound values until it runs again,
                # so each pooled connection that ever saved would hold its own copy of a snapshot
                # (tens of MiB each, measured): this one is closed instead of going back. (Not
                # the one connection of an in-memory database: that would be the database.)
                connection.invalidate()

    def load(self, key: str) -> Snapshot | None:
        """The snapshot saved under ``key``, or ``None`` if there is none."""
        with self._sessions() as session:
            row = session.get(EngineStateRow, key)
            return None if row is None else Snapshot(row.key, row.version, row.saved_at, row.blob)


class MemberPrefs:
    """Members' choices; today, opting out of private prompts.

    ``community=""`` (:data:`ALL_COMMUNITIES`) is a platform-wide choice, for an opt-out made in a
    private chat with the bot. A community's own setting, where there is one, wins over it.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def set_opt_out(
        self, platform: str, community: str, member: str, opted_out: bool = True, *, now: datetime
    ) -> None:
        """Record whether ``member`` wants no private prompts in ``community``."""
        with self._sessions.begin() as session:
            key = (platform, community, member)
            row = session.get(MemberPrefRow, key, with_for_update=True)
            if row is None:
                session.add(
                    MemberPrefRow(
                        platform=platform,
                        community=community,
                        member=member,
                        opted_out=opted_out,
                        updated_at=now,
                    )
                )
            else:
                row.opted_out, row.updated_at = opted_out, now

    def is_opted_out(self, platform: str, community: str, member: str) -> bool:
        """True if ``member`` opted out in ``community`` or, failing a setting there, everywhere."""
        with self._sessions() as session:
            return is_opted_out(session, platform, community, member)


def is_opted_out(session: Session, platform: str, community: str, member: str) -> bool:
    """``MemberPrefs.is_opted_out`` in ``session``."""
    local = session.get(MemberPrefRow, (platform, community, member))
    if local is not None:
        return local.opted_out
    everywhere = session.get(MemberPrefRow, (platform, ALL_COMMUNITIES, member))
    return everywhere is not None and everywhere.opted_out


def opted_out_many(
    session: Session, wanted: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], bool]:
    """``is_opted_out`` for each (platform, community, member) of ``wanted``, in one query."""
    keys = set(wanted)
    if not keys:
        return {}
    query = select(MemberPrefRow).where(
        MemberPrefRow.platform.in_({platform for platform, _, _ in keys}),
        MemberPrefRow.member.in_({member for _, _, member in keys}),
    )
    found = {(r.platform, r.community, r.member): r.opted_out for r in session.scalars(query)}
    return {
        (platform, community, member): found.get(
            (platform, community, member), found.get((platform, ALL_COMMUNITIES, member), False)
        )
        for platform, community, member in keys
    }


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """A message as logged; ``text`` is ``None`` once retention or a delete dropped it."""

    platform: str
    message_id: str
    conversation: ConversationKey
    author: str
    at: datetime
    scores: dict[str, float]
    text: str | None
    reply_to: str | None = None
    reply_to_author: str | None = None
    mentions: tuple[str, ...] = ()


class MessageLog:
    """What Longform saw, for evidence; the text is kept only for the retention period."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, platform: str, message: MessagePosted, scores: Mapping[str, float]) -> None:
        """Log ``message`` with its ``scores``; logging it again (an edit) replaces text and scores."""
        self.record_many([(platform, message, scores)])

    def record_many(self, items: Sequence[tuple[str, MessagePosted, Mapping[str, float]]]) -> None:
        """``record`` for each (platform, message, scores), in one transaction."""
        with self._sessions.begin() as session:
            log_messages(session, items)

    def forget_message(self, platform: str, message_id: str) -> bool:
        """Drop the text of a deleted message (id and scores stay); True if it was logged."""
        with self._sessions.begin() as session:
            row = session.get(MessageLogRow, (platform, message_id), with_for_update=True)
            if row is not None:
                row.text = None
            return row is not None

    def get(self, platform: str, message_id: str) -> LoggedMessage | None:
        """The logged message, or ``None``."""
        with self._sessions() as session:
            row = session.get(MessageLogRow, (platform, message_id))
            return None if row is None else _logged(row)

    def conversation(
        self, platform: str, key: ConversationKey, *, since: datetime, limit: int = 200
    ) -> list[LoggedMessage]:
        """Messages in ``key`` at or after ``since``, oldest first, at most ``limit``."""
        query = (
            select(MessageLogRow)
            .where(
                MessageLogRow.platform == platform,
                MessageLogRow.community == key.community,
                MessageLogRow.channel == key.channel,
                MessageLogRow.thread == key.thread,
                MessageLogRow.at >= since,
            )
            .order_by(MessageLogRow.at, MessageLogRow.message_id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [_logged(row) for row in session.scalars(query)]


# What logging a message again (an edit) replaces; the rest is as first logged.
_REPLACED = ("scores", "text", "reply_to", "reply_to_author", "mentions")


def log_messages(
    session: Session, items: Sequence[tuple[str, MessagePosted, Mapping[str, float]]]
) -> None:
    """``MessageLog.record_many`` in ``session``'s transaction: one multi-row upsert, not a
    look-up per message (the service logs every message it sees)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for platform, message, scores in items:
        # The last of two loggings of one id in a batch wins, as it would one at a time; one
        # statement must not touch a row twice (PostgreSQL refuses).
        rows[(platform, message.id)] = {
            "platform": platform, "message_id": message.id, "community": message.community,
            "channel": message.channel, "thread": message.thread, "author": message.author,
            "at": message.at, "scores": dict(scores), "text": message.text,
            "reply_to": message.reply_to, "reply_to_author": message.reply_to_author,
            "mentions": list(message.mentions) or None,
        }  # fmt: skip
    if not rows:
        return
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = upsert(cast(Table, MessageLogRow.__table__))
    statement = statement.on_conflict_do_update(
        index_elements=["platform", "message_id"],
        set_={name: getattr(statement.excluded, name) for name in _REPLACED},
    )
    session.connection().execute(statement, list(rows.values()))


def _logged(row: MessageLogRow) -> LoggedMessage:
    key = ConversationKey(row.community, row.channel, row.thread)
    return LoggedMessage(
        row.platform, row.message_id, key, row.author, row.at, dict(row.scores), row.text,
        row.reply_to, row.reply_to_author, tuple(row.mentions or ()),
    )  # fmt: skip


class FeedbackLog:
    """Moderators' verdicts on decisions, for precision reporting."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(
        self,
        platform: str,
        signal: str,
        verdict: Verdict,
        *,
        by: str,
        at: datetime,
        audit_id: int | None = None,
        message_id: str | None = None,
        community: str = "",
    ) -> int:
        """Store one verdict on an audit line and/or a message; returns its id.

        Raises ``ValueError`` if neither ``audit_id`` nor ``message_id`` is given.
        """
        if audit_id is None and message_id is None:
            raise ValueError("feedback needs an audit_id or a message_id")
        row = FeedbackRow(
            platform=platform,
            community=community,
            audit_id=audit_id,
            message_id=message_id,
            signal=str(signal),
            verdict=Verdict(verdict).value,
            by=by,
            at=at,
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return row.id

    def communities(self) -> list[str]:
        """The communities that have feedback, sorted."""
        query = select(FeedbackRow.community).distinct().where(FeedbackRow.community != "")
        with self._sessions() as session:
            return sorted(session.scalars(query))

    def feedback_counts(self, community: str | None = None) -> dict[str, tuple[int, int]]:
        """``{signal: (helpful, wrong)}`` over all feedback, or one community's (``platform:id``);
        signals without feedback are absent."""
        query = select(FeedbackRow.signal, FeedbackRow.verdict, func.count()).group_by(
            FeedbackRow.signal, FeedbackRow.verdict
        )
        if community is not None:
            query = query.where(FeedbackRow.community == community)
        counts: dict[str, list[int]] = {}
        with self._sessions() as session:
            for signal, verdict, count in session.execute(query):
                pair = counts.setdefault(signal, [0, 0])
                pair[0 if verdict == Verdict.HELPFUL else 1] += count
        return {signal: (helpful, wrong) for signal, (helpful, wrong) in counts.items()}
