"""The event journal: every event (and clock tick) the engines were given since the last snapshot.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

A restart restores the engines' snapshot and replays the journal after it, so the engines end
where they stopped instead of seeing the recent past again as new.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_journal",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("member", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_event_journal"),
    )  # fmt: skip
    op.create_index("uq_event_journal_digest", "event_journal", ["digest"], unique=True)
    op.create_index("ix_event_journal_member", "event_journal", ["platform", "member"])


def downgrade() -> None:
    op.drop_index("ix_event_journal_member", table_name="event_journal")
    op.drop_index("uq_event_journal_digest", table_name="event_journal")
    op.drop_table("event_journal")
