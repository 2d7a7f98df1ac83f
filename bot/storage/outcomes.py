"""Outcomes of interventions beside their audit rows: written once, read for the report.

How it works: :class:`OutcomeLog` stores each :class:`~bot.core.outcomes.OutcomeRecord` under its
decision's idempotency key (``codec.key_of``), so a record remade by the journal's replay after a
restart is stored once, and reads it back with the arm the audit says its decision was in:
``treated`` (sent), ``control`` (held back by the experiment, or kept by shadow mode), or
``excluded`` (opted out, failed, expired, downgraded: neither sent nor a fair control).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.outcomes import OutcomeRecord
from bot.storage.codec import key_of
from bot.storage.schema import AuditRow, FeedbackRow, InterventionOutcomeRow, Outcome

Arm = Literal["treated", "control", "excluded"]
_CONTROL = {Outcome.HELD_BACK.value, Outcome.SUPPRESSED_SHADOW.value}


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    """One intervention's outcomes as the report reads them."""

    community: str
    signal: str
    action: str  # "prompt_member:late_joiner", "post_notice", ...
    arm: Arm
    decided_at: datetime
    measures: dict[str, float]


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """A moderator alert that was sent: minutes to the first verdict (None: none yet), and it."""

    community: str
    signal: str
    minutes_to_verdict: float | None
    verdict: str | None  # "helpful" or "wrong"
    minutes_to_ack: float | None = None  # the first Acknowledge press; None: nobody pressed it


def record_key(record: OutcomeRecord, platform: str) -> str:
    """The idempotency key of the decision ``record`` settles."""
    return key_of(platform, record.kind, record.conversation, record.message_id,
                  record.signal.value, record.recipient, record.prompt)  # fmt: skip


class OutcomeLog:
    """Settled outcomes, one per decision."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, records: Iterable[OutcomeRecord], platform: str) -> int:
        """Store each record not stored before (by decision key); returns how many were new."""
        with self._sessions.begin() as session:
            return add_outcomes(session, records, platform)

    def acknowledge(self, key: str, *, by_platform: str, at: datetime) -> float | None:
        """Record the first acknowledgement of the alert ``key``; the minutes since it was sent,
        or None if it was acknowledged before (or never sent)."""
        with self._sessions.begin() as session:
            if session.scalar(select(InterventionOutcomeRow.id).filter_by(decision_key=key)):
                return None
            sent = session.scalars(select(AuditRow).where(
                AuditRow.decision_key == key, AuditRow.outcome == Outcome.SENT.value)
                .order_by(AuditRow.id).limit(1)).first()  # fmt: skip
            if sent is None:
                return None
            minutes = max(0.0, (at - sent.at).total_seconds() / 60)
            session.add(InterventionOutcomeRow(
                decision_key=key, platform=by_platform, community=sent.community,
                kind="alert_moderators", prompt="", signal=sent.signal, message_id=sent.message_id,
                decided_at=sent.at, settled_at=at, measures={"minutes_to_ack": round(minutes, 2)},
            ))  # fmt: skip
            return minutes

    def read(
        self, community: str | None = None, since: datetime | None = None
    ) -> list[StoredOutcome]:
        """Every stored outcome (of ``community``, decided since ``since``), with its arm."""
        query = (
            select(InterventionOutcomeRow)
            .where(
                InterventionOutcomeRow.kind != "alert_moderators"  # acknowledgements: see alerts()
            )
            .order_by(InterventionOutcomeRow.id)
        )
        if community:
            query = query.where(InterventionOutcomeRow.community == community)
        if since is not None:
            query = query.where(InterventionOutcomeRow.decided_at >= since)
        with self._sessions() as session:
            rows = list(session.scalars(query))
            arms = _arms(session, [row.decision_key for row in rows])
        return [
            StoredOutcome(row.community, row.signal,
                          f"{row.kind}:{row.prompt}" if row.prompt else row.kind,
                          arms.get(row.decision_key, "excluded"), row.decided_at,
                          {str(k): float(v) for k, v in dict(row.measures).items()})
            for row in rows
        ]  # fmt: skip

    def alerts(
        self, community: str | None = None, since: datetime | None = None
    ) -> list[AlertOutcome]:
        """Every sent moderator alert, with the time to its first verdict and that verdict."""
        query = select(AuditRow).where(AuditRow.kind == "alert_moderators",
                                       AuditRow.outcome == Outcome.SENT.value)  # fmt: skip
        if community:
            query = query.where(AuditRow.community == community)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        found: list[AlertOutcome] = []
        with self._sessions() as session:
            for row in session.scalars(query.order_by(AuditRow.id)):
                first = session.scalars(
                    select(FeedbackRow).where(FeedbackRow.message_id == row.message_id,
                                              FeedbackRow.signal == row.signal,
                                              FeedbackRow.at >= row.at)
                    .order_by(FeedbackRow.at).limit(1)
                ).first()  # fmt: skip
                minutes = (first.at - row.at).total_seconds() / 60 if first else None
                ack = session.scalar(select(InterventionOutcomeRow.measures)
                                     .filter_by(decision_key=row.decision_key))  # fmt: skip
                acked = float(ack["minutes_to_ack"]) if isinstance(ack, dict) else None
                found.append(AlertOutcome(row.community, row.signal, minutes,
                                          first.verdict if first else None, acked))  # fmt: skip
        return found


def _arms(session: Session, keys: Sequence[str]) -> dict[str, Arm]:
    """The arm of each decision key, from its audit lines."""
    seen: dict[str, set[str]] = {}
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        query = select(AuditRow.decision_key, AuditRow.outcome).where(
            AuditRow.decision_key.in_(chunk)
        )
        for key, outcome in session.execute(query):
            seen.setdefault(str(key), set()).add(str(outcome))
    arms: dict[str, Arm] = {}
    for key, outcomes in seen.items():
        if Outcome.SENT.value in outcomes:
            arms[key] = "treated"
        elif outcomes & _CONTROL:
            arms[key] = "control"
        else:
            arms[key] = "excluded"
    return arms


def add_outcomes(session: Session, records: Iterable[OutcomeRecord], platform: str) -> int:
    """:meth:`OutcomeLog.add` in ``session`` (also the service's batch transaction)."""
    added = 0
    for record in records:
        key = record_key(record, platform)
        if session.scalar(select(InterventionOutcomeRow.id).filter_by(decision_key=key)):
            continue
        session.add(InterventionOutcomeRow(
            decision_key=key, platform=platform, community=record.conversation.community,
            kind=record.kind, prompt=record.prompt, signal=record.signal.value,
            message_id=record.message_id, decided_at=record.decided_at,
            settled_at=record.settled_at, measures=dict(record.measures),
        ))  # fmt: skip
        added += 1
    return added
