"""Feedback remembers its community, so precision can be reported per community.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Existing rows get an empty community (counted only in the all-communities total).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("community", sa.String(128), nullable=False, server_default=""))
    op.create_index("ix_feedback_community", "feedback", ["community", "signal"])


def downgrade() -> None:
    op.drop_index("ix_feedback_community", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("community")
