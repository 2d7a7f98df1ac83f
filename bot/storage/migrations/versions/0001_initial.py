"""Initial schema: audit, outbox, engine_state, member_prefs, message_log, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-03-02

Written out in full (not from the models) so that later model changes cannot alter history.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_OUTCOMES = (
    "decided",
    "sent",
    "failed",
    "downgraded",
    "undone",
    "expired",
    "suppressed_shadow",
    "opted_out",
)
_STATES = ("pending", "in_flight", "done", "failed", "expired")
_VERDICTS = ("helpful", "wrong")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def _time(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "audit",
        _id(),
        _time("at"),
        _str("platform", 32),
        _str("community", 128),
        _str("channel", 128),
        _str("thread", 128),
        _str("place", 128),
        _str("kind", 32),
        _str("signal", 32),
        _str("message_id", 128),
        _str("recipient", 128, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        _str("outcome", 32),
        sa.Column("detail", sa.Text(), nullable=False),
        _str("policy", 128),
        _str("policy_version", 64),
        _str("mode", 16),
        _str("decision_key", 64, nullable=True),
        sa.CheckConstraint(_one_of("outcome", _OUTCOMES), name=op.f("ck_audit_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_table(
        "outbox",
        _str("id", 64),
        _str("platform", 32),
        _str("kind", 32),
        sa.Column("payload", sa.JSON(), nullable=False),
        _str("state", 16),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at"),
        _time("created_at"),
        _time("expires_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _str("outcome", 32, nullable=True),
        _str("policy", 128),
        _str("policy_version", 64),
        _str("mode", 16),
        sa.CheckConstraint(_one_of("state", _STATES), name=op.f("ck_outbox_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_table(
        "engine_state",
        _str("key", 128),
        sa.Column("version", sa.Integer(), nullable=False),
        _time("saved_at"),
        sa.Column("blob", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_engine_state")),
    )
    op.create_table(
        "member_prefs",
        _str("platform", 32),
        _str("community", 128),
        _str("member", 128),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("platform", "community", "member", name=op.f("pk_member_prefs")),
    )
    op.create_table(
        "message_log",
        _str("platform", 32),
        _str("message_id", 128),
        _str("community", 128),
        _str("channel", 128),
        _str("thread", 128),
        _str("author", 128),
        _time("at"),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("platform", "message_id", name=op.f("pk_message_log")),
    )
    op.create_table(
        "feedback",
        _id(),
        _str("platform", 32),
        sa.Column("audit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        _str("message_id", 128, nullable=True),
        _str("signal", 32),
        _str("verdict", 16),
        _str("by", 128),
        _time("at"),
        sa.CheckConstraint(_one_of("verdict", _VERDICTS), name=op.f("ck_feedback_verdict")),
        sa.ForeignKeyConstraint(
            ["audit_id"], ["audit.id"], ondelete="SET NULL", name=op.f("fk_feedback_audit_id_audit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )


def downgrade() -> None:
    for table in ("feedback", "message_log", "member_prefs", "engine_state", "outbox", "audit"):
        op.drop_table(table)
