"""Indexes for the hot queries: due outbox items, retention by time, erasure by author.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-02

``claim_due`` scans outbox by (state, next_attempt_at); ``purge`` scans message_log and audit by
time; ``erase_member`` finds a member's messages by (platform, author); the runtime reads a
conversation's recent messages; reports join audit lines to outbox items by decision_key.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_outbox_due": ("outbox", ["state", "next_attempt_at"]),
    "ix_message_log_at": ("message_log", ["at"]),
    "ix_message_log_author": ("message_log", ["platform", "author"]),
    "ix_message_log_conversation": (
        "message_log",
        ["platform", "community", "channel", "thread", "at"],
    ),
    "ix_audit_at": ("audit", ["at"]),
    "ix_audit_decision_key": ("audit", ["decision_key"]),
}


def upgrade() -> None:
    for name, (table, columns) in _INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in _INDEXES.items():
        op.drop_index(name, table_name=table)
