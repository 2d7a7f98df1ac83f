"""The bookkeeping of an undo: which decision was undone, by whom, with what effect.

How it works: a moderator's undo is a decision (``UndoActions``, built by the core from their
request) that goes through the outbox and the pipeline like any other. Once it has been carried
out, the decision it was asked from gets an ``undone`` audit line naming the moderator and what
was done. The executor writes that line right after recording the undo itself, so it is written
wherever the undo runs (an execute role in another process included).
"""

from __future__ import annotations

from bot.core.decisions import AlertModerators, Decision, Evidence, Signal, UndoActions
from bot.core.events import ConversationKey
from bot.runtime.gateway import CommunityRef
from bot.runtime.service import Runtime
from bot.storage.audit import AuditEntry
from bot.storage.schema import Outcome
from bot.storage.store import Store


def stored_decision(store: Store, key: str) -> Decision | None:
    """The decision kept under ``key``: from the outbox, else (older) rebuilt from its audit line
    (enough to explain it, not to act on it); None when neither has it."""
    item = store.outbox.get(key)
    if item is not None:
        return item.decision
    entries = store.audit.entries(decision_key=key, limit=1)
    return from_audit(entries[0]) if entries else None


def from_audit(entry: AuditEntry) -> Decision:
    """An old decision as its audit line remembers it."""
    ids = entry.evidence.get("message_ids", ()) if isinstance(entry.evidence, dict) else ()
    return AlertModerators(
        conversation=ConversationKey(entry.community, entry.channel, entry.thread),
        message_id=entry.message_id, at=entry.at, signal=Signal(entry.signal), reason=entry.reason,
        evidence=Evidence(tuple(ids)), text="",
    )  # fmt: skip


def record_undone(runtime: Runtime, key: str, by: str, detail: str = "") -> bool:
    """Append the ``undone`` audit line of decision ``key`` (blocking: call it in a thread);
    False when Longform has no record of that decision."""
    decision = stored_decision(runtime.store, key)
    if decision is None:
        return False
    community = decision.conversation.community
    engine_key = runtime.community(community).engine_key
    provenance = runtime.provenance(CommunityRef.of(community).platform, engine_key, community)
    entry = AuditEntry.of(decision, Outcome.UNDONE, at=runtime.clock(), provenance=provenance,
                          detail=f"undone by {by}. {detail}".strip(), decision_key=key)  # fmt: skip
    runtime.store.audit.append(entry)
    return True


def record_undo(runtime: Runtime, undo: UndoActions, detail: str) -> bool:
    """``record_undone`` for the decision an executed undo names (none: nothing to record)."""
    return bool(undo.undone) and record_undone(runtime, undo.undone, undo.by, detail)
