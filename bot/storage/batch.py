"""One transaction for everything the service writes about a batch of events.

How it works: :meth:`Store.batch` opens a transaction and hands out a :class:`Batch`, whose
methods are the repositories' writes (journal, message log, member preferences read, outbox,
audit) run in that one transaction; leaving the ``with`` block commits them together, or nothing
if it raised. The service judges a batch of events as one unit this way: one commit, and a few
multi-row statements, instead of a transaction (and round trips) per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.core.decisions import Decision
from bot.core.events import MessagePosted
from bot.core.outcomes import OutcomeRecord
from bot.core.scoring import Scores
from bot.storage.audit import AuditEntry, Provenance, add_entry_once
from bot.storage.journal import Entry, append_rows, insert_rows
from bot.storage.outbox import DEFAULT_TTL, enqueue_many
from bot.storage.outcomes import add_outcomes
from bot.storage.records import is_opted_out, log_messages, opted_out_many
from bot.storage.schema import MessageLogRow


class Batch:
    """The writes of one transaction; made by :meth:`bot.storage.store.Store.batch`."""

    def __init__(self, session: Session, ttl: timedelta = DEFAULT_TTL) -> None:
        self.session = session
        self._ttl = ttl
        self._outbox: list[tuple[Decision, datetime, Provenance]] = []
        self._opt_outs: dict[tuple[str, str, str], bool] = {}

    def journal(self, entries: Sequence[tuple[int, Entry, Scores | None]]) -> list[bool]:
        """See :meth:`bot.storage.journal.Journal.append`."""
        return append_rows(self.session, entries)

    def journal_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store journal rows made by :func:`bot.storage.journal.journal_rows` (the new ones:
        :meth:`bot.storage.journal.Journal.fresh` says which)."""
        insert_rows(self.session, rows)

    def log_messages(self, items: Sequence[tuple[str, MessagePosted, Mapping[str, float]]]) -> None:
        """See :meth:`bot.storage.records.MessageLog.record_many`."""
        log_messages(self.session, items)

    def forget_messages(self, platform: str, message_ids: Sequence[str]) -> None:
        """Drop the text of deleted messages (one statement for the lot)."""
        if message_ids:
            self.session.execute(
                update(MessageLogRow)
                .where(MessageLogRow.platform == platform,
                       MessageLogRow.message_id.in_(list(message_ids)))
                .values(text=None)
            )  # fmt: skip

    def read_opt_outs(self, wanted: Iterable[tuple[str, str, str]]) -> None:
        """Read the opt-outs of these (platform, community, member) in one query, for
        :meth:`is_opted_out` to answer from (a batch's prompts: one query, not one each)."""
        self._opt_outs.update(opted_out_many(self.session, wanted))

    def is_opted_out(self, platform: str, community: str, member: str) -> bool:
        """See :meth:`bot.storage.records.MemberPrefs.is_opted_out` (from :meth:`read_opt_outs`
        where it read this member)."""
        known = self._opt_outs.get((platform, community, member))
        return is_opted_out(self.session, platform, community, member) if known is None else known

    def enqueue(
        self, decisions: Iterable[Decision], *, now: datetime, provenance: Provenance
    ) -> None:
        """Add ``decisions`` to the outbox as :meth:`bot.storage.outbox.Outbox.enqueue` does, with
        the batch's ``ttl``; written together at :meth:`flush` (the end of the batch), each with
        its own ``now``, so the executor's order (by time decided) is the order of deciding."""
        self._outbox.extend((decision, now, provenance) for decision in decisions)

    def flush(self) -> None:
        """Write what :meth:`enqueue` collected (``Store.batch`` calls it before committing)."""
        if self._outbox:
            enqueue_many(self.session, self._outbox, self._ttl)
            self._outbox = []

    def record_outcomes(self, records: Iterable[OutcomeRecord], platform: str) -> int:
        """See :meth:`bot.storage.outcomes.OutcomeLog.add`."""
        return add_outcomes(self.session, records, platform)

    def audit_once(self, entry: AuditEntry) -> bool:
        """See :meth:`bot.storage.audit.AuditLog.append_once`."""
        return add_entry_once(self.session, entry)
