"""Outcomes of interventions, and the experiment's control group in the audit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

``intervention_outcomes`` holds what became of each intervention (bot.core.outcomes): ids and
numbers only, never text, one row per decision, joined to its audit rows by ``decision_key``. The
audit's outcome may now be ``held_back``: an intervention the experiment kept as control.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_BEFORE = ("decided", "sent", "failed", "downgraded", "undone", "expired", "suppressed_shadow",
           "opted_out")  # fmt: skip
_AFTER = (*_BEFORE, "held_back")


def _one_of(values: tuple[str, ...]) -> str:
    return f"outcome IN ({', '.join(repr(v) for v in values)})"


def _check(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_constraint(op.f("ck_audit_outcome"), type_="check")
        batch.create_check_constraint(op.f("ck_audit_outcome"), _one_of(values))


def upgrade() -> None:
    _check(_AFTER)
    op.create_table(
        "intervention_outcomes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("decision_key", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("prompt", sa.String(32), nullable=False),
        sa.Column("signal", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("decided_at", _TIME, nullable=False),
        sa.Column("settled_at", _TIME, nullable=False),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.UniqueConstraint("decision_key", name="uq_intervention_outcomes_decision_key"),
    )  # fmt: skip
    op.create_index("ix_intervention_outcomes_community", "intervention_outcomes",
                    ["community", "decided_at"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_intervention_outcomes_community", table_name="intervention_outcomes")
    op.drop_table("intervention_outcomes")
    op.execute(sa.text("DELETE FROM audit WHERE outcome = 'held_back'"))
    _check(_BEFORE)
