"""Erasing a member and purging old data: the only paths that change history.

How it works, and the choice made for the audit. ``erase_member`` deletes what is the member's
own (their preferences, their logged messages, text and all, and their dashboard sign-in links and
sessions); other members' messages that replied to or mentioned them name the marker instead. The audit is append-only and
must keep saying *that* Longform acted, *when*, *where* and *on which messages*, so its rows stay,
with their ids, evidence and outcomes; but wherever the member is named (``recipient``, or a
whole word in ``reason`` or ``detail``) the member id is replaced by a marker
``erased:<16 hex>``: an HMAC-SHA256 of ``platform:member`` under a salt. With a salt the operator
keeps secret (``Store.open(..., erase_salt=...)``) the marker is the same in every row and every
later erase, so moderators can still see that rows concern one person without knowing whom; with
no salt, a random one is drawn per erase, and the marker cannot be linked to anything. An audit
row addressed to the member also has its ``decision_key`` replaced by a keyed hash of it (the key
is an unsalted hash that names the recipient, so a guess could be checked against it). Outbox
items addressed to the member are deleted (an undelivered one first gets an ``expired`` audit
line); other outbox payloads that name them are scrubbed like the audit. Feedback given *by* the
member (as a moderator) keeps its verdict under the marker. Message ids are never rewritten: they
are not personal data by themselves.

``purge`` applies retention: message text older than ``retention_days`` becomes NULL (ids and
scores stay), finished outbox items older than that are deleted, and audit rows are deleted only
when an ``audit_retention_days`` is given.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.core.decisions import Decision, recipient
from bot.storage import codec, journal
from bot.storage.audit import MAINTENANCE, AuditEntry, add_entry
from bot.storage.outbox import provenance_of
from bot.storage.schema import (
    AuditRow,
    DashboardSessionRow,
    FeedbackRow,
    MemberPrefRow,
    MessageLogRow,
    OutboxRow,
    OutboxState,
    Outcome,
    SignInLinkRow,
)

_PEOPLE_FIELDS = frozenset({"member", "participants"})
_PROSE_FIELDS = frozenset({"reason", "text", "title"})
_OPEN = (OutboxState.PENDING.value, OutboxState.IN_FLIGHT.value)
_FINISHED = (OutboxState.DONE.value, OutboxState.FAILED.value, OutboxState.EXPIRED.value)


@dataclass(frozen=True, slots=True)
class Erasure:
    """What ``erase_member`` changed; ``marker`` replaced the member id everywhere it stayed."""

    marker: str
    prefs_deleted: int
    messages_deleted: int
    audit_rows_pseudonymised: int
    outbox_items_changed: int
    feedback_rows_pseudonymised: int
    journal_rows_deleted: int = 0

    @property
    def found(self) -> bool:
        """Whether anything about the member was stored at all."""
        return any((self.prefs_deleted, self.messages_deleted, self.audit_rows_pseudonymised,
                    self.outbox_items_changed, self.feedback_rows_pseudonymised,
                    self.journal_rows_deleted))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Purge:
    """What ``purge`` changed."""

    texts_dropped: int
    outbox_deleted: int
    audit_deleted: int


def marker_for(platform: str, member: str, salt: bytes) -> str:
    """The pseudonym that replaces ``member`` in kept rows: ``erased:`` and 16 hex characters."""
    digest = hmac.new(salt, f"{platform}:{member}".encode(), hashlib.sha256).hexdigest()
    return f"erased:{digest[:16]}"


def erase_member(
    session: Session, platform: str, member: str, salt: bytes | None, *, now: datetime
) -> Erasure:
    """Erase ``member`` of ``platform`` in ``session``'s transaction (see the module docstring)."""
    scrub = _Scrubber(platform, member, salt if salt is not None else secrets.token_bytes(16))
    prefs = _count(
        session.execute(
            delete(MemberPrefRow).where(
                MemberPrefRow.platform == platform, MemberPrefRow.member == member
            )
        )
    )
    own = select(MessageLogRow.message_id).where(
        MessageLogRow.platform == platform, MessageLogRow.author == member
    )
    journal_rows = journal.erase_member(session, platform, member, session.scalars(own).all())
    messages = _count(
        session.execute(
            delete(MessageLogRow).where(
                MessageLogRow.platform == platform, MessageLogRow.author == member
            )
        )
    )
    _scrub_reply_links(session, platform, scrub)
    session.execute(
        delete(SignInLinkRow).where(
            SignInLinkRow.platform == platform, SignInLinkRow.member == member
        )
    )
    session.execute(
        delete(DashboardSessionRow).where(
            DashboardSessionRow.platform == platform, DashboardSessionRow.member == member
        )
    )
    # Feedback counts stay right: only who gave it is replaced.
    feedback = _count(
        session.execute(
            update(FeedbackRow)
            .where(FeedbackRow.platform == platform, FeedbackRow.by == member)
            .values(by=scrub.marker)
        )
    )
    outbox = sum(_scrub_outbox(session, row, scrub, now) for row in _outbox_rows(session, platform))
    audit = _pseudonymise_audit(session, platform, scrub)
    return Erasure(scrub.marker, prefs, messages, audit, outbox, feedback, journal_rows)


def purge(
    session: Session, now: datetime, retention_days: int, audit_retention_days: int | None
) -> Purge:
    """Apply retention in ``session``'s transaction (see the module docstring)."""
    if retention_days < 0 or (audit_retention_days is not None and audit_retention_days < 0):
        raise ValueError("retention days must be zero or more")
    cutoff = now - timedelta(days=retention_days)
    texts = _count(
        session.execute(
            update(MessageLogRow)
            .where(MessageLogRow.at < cutoff, MessageLogRow.text.is_not(None))
            .values(text=None)
            .execution_options(synchronize_session=False)
        )
    )
    outbox = _count(
        session.execute(
            delete(OutboxRow)
            .where(OutboxRow.state.in_(_FINISHED), OutboxRow.created_at < cutoff)
            .execution_options(synchronize_session=False)
        )
    )
    audit = 0
    if audit_retention_days is not None:
        audit_cutoff = now - timedelta(days=audit_retention_days)
        audit = _count(
            session.execute(
                delete(AuditRow)
                .where(AuditRow.at < audit_cutoff)
                .execution_options(synchronize_session=False, **{MAINTENANCE: "purge"})
            )
        )
    return Purge(texts, outbox, audit)


class _Scrubber:
    """Replaces a member id: whole values in people fields, whole words in prose."""

    def __init__(self, platform: str, member: str, salt: bytes) -> None:
        self.member, self.marker, self._salt = member, marker_for(platform, member, salt), salt
        self._word = re.compile(rf"(?<!\w){re.escape(member)}(?!\w)")

    def prose(self, text: str) -> str:
        return self._word.sub(self.marker, text)

    def person(self, value: str | None) -> str | None:
        return self.marker if value == self.member else value

    def key(self, key: str | None) -> str | None:
        if key is None:
            return None
        return "erased:" + hmac.new(self._salt, key.encode(), hashlib.sha256).hexdigest()[:24]

    def decision(self, decision: Decision) -> Decision:
        changes: dict[str, Any] = {}
        for f in fields(decision):
            value = getattr(decision, f.name)
            if f.name in _PROSE_FIELDS:
                changes[f.name] = self.prose(value)
            elif f.name in _PEOPLE_FIELDS and isinstance(value, tuple):
                changes[f.name] = tuple(self.person(v) for v in value)
            elif f.name in _PEOPLE_FIELDS:
                changes[f.name] = self.person(value)
        return replace(decision, **changes)


def _scrub_reply_links(session: Session, platform: str, scrub: _Scrubber) -> None:
    """Other members' messages keep who they answered or named, as the marker."""
    member = scrub.member
    session.execute(
        update(MessageLogRow)
        .where(MessageLogRow.platform == platform, MessageLogRow.reply_to_author == member)
        .values(reply_to_author=scrub.marker)
        .execution_options(synchronize_session=False)
    )
    query = select(MessageLogRow).where(
        MessageLogRow.platform == platform,
        MessageLogRow.mentions.is_not(None),
        cast(MessageLogRow.mentions, Text).contains(member, autoescape=True),
    )
    for row in session.scalars(query):
        row.mentions = [scrub.person(name) for name in row.mentions or ()]


def _outbox_rows(session: Session, platform: str) -> list[OutboxRow]:
    query = select(OutboxRow).where(OutboxRow.platform == platform).with_for_update()
    return list(session.scalars(query))


def _scrub_outbox(session: Session, row: OutboxRow, scrub: _Scrubber, now: datetime) -> int:
    decision = codec.decode(row.payload)
    clean = scrub.decision(decision)
    if clean == decision:
        return 0
    if recipient(decision) != scrub.member:
        row.payload = codec.encode(clean)
        return 1
    if row.state in _OPEN:
        entry = AuditEntry.of(
            clean,
            Outcome.EXPIRED,
            at=now,
            provenance=provenance_of(row),
            detail="the member asked to be erased",
            decision_key=scrub.key(row.id),
        )
        add_entry(session, entry)
    session.delete(row)
    return 1


def _pseudonymise_audit(session: Session, platform: str, scrub: _Scrubber) -> int:
    member = scrub.member
    columns = (
        AuditRow.id,
        AuditRow.recipient,
        AuditRow.reason,
        AuditRow.detail,
        AuditRow.decision_key,
    )
    query = select(*columns).where(
        AuditRow.platform == platform,
        or_(
            AuditRow.recipient == member,
            AuditRow.reason.contains(member, autoescape=True),
            AuditRow.detail.contains(member, autoescape=True),
        ),
    )
    changed = 0
    for audit_id, old_recipient, reason, detail, key in session.execute(query).all():
        values = {
            "recipient": scrub.person(old_recipient),
            "reason": scrub.prose(reason),
            "detail": scrub.prose(detail),
            "decision_key": scrub.key(key) if old_recipient == member else key,
        }
        if values == {
            "recipient": old_recipient,
            "reason": reason,
            "detail": detail,
            "decision_key": key,
        }:
            continue
        session.execute(
            update(AuditRow)
            .where(AuditRow.id == audit_id)
            .values(**values)
            .execution_options(synchronize_session=False, **{MAINTENANCE: "erase"})
        )
        changed += 1
    return changed


def _count(result: Any) -> int:
    return int(result.rowcount)
