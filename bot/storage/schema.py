"""Tables of the durable store, as SQLAlchemy 2 typed declarative models.

The models describe the schema at migration head; the migrations in ``migrations/versions`` are
the source of truth for how a database gets there and never import these models, so a later
change here cannot rewrite history. Every timestamp column is :class:`UTCDateTime`: aware UTC in,
aware UTC out, on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so migrations (and SQLite batch mode) can refer to them portably.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class Outcome(StrEnum):
    """What became of a decision, as the audit records it."""

    DECIDED = "decided"
    SENT = "sent"
    FAILED = "failed"
    DOWNGRADED = "downgraded"
    UNDONE = "undone"
    EXPIRED = "expired"
    SUPPRESSED_SHADOW = "suppressed_shadow"
    OPTED_OUT = "opted_out"
    HELD_BACK = "held_back"  # the experiment's control group: recorded, not sent (never told)


class OutboxState(StrEnum):
    """Where a decision stands in the outbox."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


class Verdict(StrEnum):
    """A moderator's judgement of one decision."""

    HELPFUL = "helpful"
    WRONG = "wrong"


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always aware UTC in Python.

    Binding a naive datetime raises ``ValueError`` (a naive time is ambiguous). SQLite keeps no
    zone, so values are stored there as naive UTC and given ``UTC`` back on read; PostgreSQL
    stores ``timestamptz`` and values are converted to UTC on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with portable constraint names."""

    metadata = MetaData(naming_convention=NAMING)


class AuditRow(Base):
    """One line of the append-only audit: a decision and one outcome of it."""

    __tablename__ = "audit"
    __table_args__ = (
        CheckConstraint(_one_of("outcome", Outcome), name="outcome"),
        Index("ix_audit_at", "at"),
        Index("ix_audit_decision_key", "decision_key"),
        # The dashboard's pages: one community's rows by time (newest first, paged), and its
        # counts by day, signal and outcome read from the index alone.
        Index("ix_audit_community_at", "community", "at", "signal", "outcome"),
        Index("ix_audit_community_message", "community", "message_id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    platform: Mapped[str] = mapped_column(String(32))
    community: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(128))
    thread: Mapped[str] = mapped_column(String(128))
    place: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    signal: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(128))
    recipient: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[Any] = mapped_column(JSON)
    severity: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    policy: Mapped[str] = mapped_column(String(128))
    policy_version: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    decision_key: Mapped[str | None] = mapped_column(String(64))


class InterventionOutcomeRow(Base):
    """What became of one intervention (``bot.core.outcomes``): ids and numbers, never text.

    Joined to the decision's audit rows by ``decision_key``; one row per decision."""

    __tablename__ = "intervention_outcomes"
    __table_args__ = (
        UniqueConstraint("decision_key"),
        Index("ix_intervention_outcomes_community", "community", "decided_at"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    decision_key: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    community: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    prompt: Mapped[str] = mapped_column(String(32))
    signal: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    measures: Mapped[Any] = mapped_column(JSON)


class OutboxRow(Base):
    """A decision written before it is executed; ``id`` is its idempotency key."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_one_of("state", OutboxState), name="state"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[Any] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))
    policy: Mapped[str] = mapped_column(String(128))
    policy_version: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))


class EngineStateRow(Base):
    """A named JSON snapshot of engine state."""

    __tablename__ = "engine_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    blob: Mapped[Any] = mapped_column(JSON)


class MemberPrefRow(Base):
    """A member's preferences in one community (``community=""``: the whole platform)."""

    __tablename__ = "member_prefs"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    community: Mapped[str] = mapped_column(String(128), primary_key=True)
    member: Mapped[str] = mapped_column(String(128), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MessageLogRow(Base):
    """A message seen, kept for evidence; ``text`` is dropped after retention or on delete."""

    __tablename__ = "message_log"
    __table_args__ = (
        Index("ix_message_log_at", "at"),
        Index("ix_message_log_author", "platform", "author"),
        Index("ix_message_log_conversation", "platform", "community", "channel", "thread", "at"),
    )

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    community: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(128))
    thread: Mapped[str] = mapped_column(String(128))
    author: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    scores: Mapped[Any] = mapped_column(JSON)
    text: Mapped[str | None] = mapped_column(Text)
    # Who a message answered or named: the dashboard's reply graph. Erasing a member scrubs them.
    reply_to: Mapped[str | None] = mapped_column(String(128))
    reply_to_author: Mapped[str | None] = mapped_column(String(128))
    mentions: Mapped[Any] = mapped_column(JSON, nullable=True)


class FeedbackRow(Base):
    """A moderator's verdict on a decision (by audit id) or on a message's detection."""

    __tablename__ = "feedback"
    __table_args__ = (
        # No "audit_id or message_id" check: purging an audit row sets audit_id to NULL.
        CheckConstraint(_one_of("verdict", Verdict), name="verdict"),
        Index("ix_feedback_community", "community", "signal"),
        Index("ix_feedback_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    community: Mapped[str] = mapped_column(String(128), default="", server_default="")
    audit_id: Mapped[int | None] = mapped_column(
        AutoId, ForeignKey("audit.id", ondelete="SET NULL")
    )
    message_id: Mapped[str | None] = mapped_column(String(128))
    signal: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class JournalRow(Base):
    """One event (or clock tick) given to the engines, kept until a later snapshot covers it.

    ``digest`` identifies an event by its content, so an event delivered twice is judged once;
    ticks have none. ``member`` is the author (or joiner), so an erasure can find their rows.
    """

    __tablename__ = "event_journal"
    __table_args__ = (
        Index("uq_event_journal_digest", "digest", unique=True),
        Index("ix_event_journal_member", "platform", "member"),
    )

    seq: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=False)
    digest: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(32))
    member: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[Any] = mapped_column(JSON)


class SignInLinkRow(Base):
    """A one-time dashboard sign-in link; only the SHA-256 of its token is stored."""

    __tablename__ = "dashboard_links"
    __table_args__ = (Index("ix_dashboard_links_expires", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    member: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    communities: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DashboardSessionRow(Base):
    """A signed-in moderator's dashboard session; only the SHA-256 of its cookie is stored."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_expires", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    csrf: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    member: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    communities: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PartitionStateRow(Base):
    """The engines' memory for one partition of an event stream (the distributed judges).

    ``stream_seq`` is the last stream sequence the memory covers; ``epoch`` goes up each time a
    judge takes the partition over, so a judge that lost it cannot overwrite its successor's.
    """

    __tablename__ = "partition_state"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    stream_seq: Mapped[int] = mapped_column(BigInteger)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    blob: Mapped[Any] = mapped_column(JSON)
