"""Durable storage for the runtime: audit, outbox, engine state, member prefs, messages, feedback.

Synchronous SQLAlchemy 2 (SQLite file by default, PostgreSQL by URL); call it from asyncio with
``asyncio.to_thread``. Start with ``Store.open(url)``.
"""

from bot.storage.audit import AuditEntry, AuditLog, Provenance
from bot.storage.encoded import EncodedJSON
from bot.storage.errors import StorageError
from bot.storage.outbox import Outbox, OutboxItem, Recovery
from bot.storage.privacy import Erasure, Purge
from bot.storage.records import LoggedMessage, Snapshot
from bot.storage.schema import OutboxState, Outcome, Verdict
from bot.storage.store import Store

__all__ = [
    "AuditEntry",
    "AuditLog",
    "EncodedJSON",
    "Erasure",
    "LoggedMessage",
    "Outbox",
    "OutboxItem",
    "OutboxState",
    "Outcome",
    "Provenance",
    "Purge",
    "Recovery",
    "Snapshot",
    "StorageError",
    "Store",
    "Verdict",
]
