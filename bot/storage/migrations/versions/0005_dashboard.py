"""The moderators' dashboard: sign-in links and sessions, reply links in the message log, and
indexes for its pages.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

The audit page reads one community's rows newest first, a page at a time, and the overview counts
them by day, signal and outcome: ``(community, at, signal, outcome)`` serves both from the index
(measured on 1,000,000 rows in benchmarks/dashboard.py). Feedback is joined to decisions by
message id. ``message_log`` gains who a message replied to or mentioned, for the reply graph.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Migrations never import the models (schema.py); this matches UTCDateTime's column type.
_TIME = sa.DateTime(timezone=True)
_INDEXES = {
    "ix_audit_community_at": ("audit", ["community", "at", "signal", "outcome"]),
    "ix_audit_community_message": ("audit", ["community", "message_id"]),
    "ix_feedback_message": ("feedback", ["message_id"]),
}


def upgrade() -> None:
    with op.batch_alter_table("message_log") as batch:
        batch.add_column(sa.Column("reply_to", sa.String(128), nullable=True))
        batch.add_column(sa.Column("reply_to_author", sa.String(128), nullable=True))
        batch.add_column(sa.Column("mentions", sa.JSON(), nullable=True))
    for name, (table, columns) in _INDEXES.items():
        op.create_index(name, table, columns)
    op.create_table(
        "dashboard_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("member", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("communities", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("used_at", _TIME, nullable=True),
    )
    op.create_index("ix_dashboard_links_expires", "dashboard_links", ["expires_at"])
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("member", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("communities", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("ended_at", _TIME, nullable=True),
    )
    op.create_index("ix_dashboard_sessions_expires", "dashboard_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_sessions_expires", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index("ix_dashboard_links_expires", table_name="dashboard_links")
    op.drop_table("dashboard_links")
    for name, (table, _columns) in _INDEXES.items():
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("message_log") as batch:
        batch.drop_column("mentions")
        batch.drop_column("reply_to_author")
        batch.drop_column("reply_to")
