"""The distributed judges' memory: one snapshot per partition of an event stream.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Chained after 0006 (outcomes) at the merge; written after 0005.
Each row holds the engines' memory of one partition, the last stream sequence it covers and the
epoch of the judge that owns it (bot/distributed/judge.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partition_state",
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.Column("saved_at", _TIME, nullable=False),
        sa.Column("blob", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("partition_state")
