"""The journal keeps every kind of entry exactly and recognises an event delivered again in a later
batch; erasing a member pseudonymises exactly the audit rows that name them (a name with LIKE
wildcards matches only itself) and counts what it changed; a conversation is read up to its limit.
On SQLite and, when LONGFORM_TEST_POSTGRES_URL is set, PostgreSQL (the fixtures of test_storage.py).

Mutation testing (issue 18) found each of these unchecked by the storage tests.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from bot.core.events import ConversationKey, MemberJoined, MessageDeleted, MessageEdited
from bot.storage import Outcome, StorageError, Store
from bot.storage.audit import AuditEntry
from bot.storage.journal import Tick, decode, digest, encode, journal_rows
from tests import test_storage
from tests.builders import MIN, T0, message
from tests.test_storage import LIVE, prompt

# The store fixtures of test_storage.py (SQLite, and PostgreSQL when it is configured).
database_url = test_storage.database_url
store = test_storage.store


# -- the journal -----------------------------------------------------------------------------------


def test_every_kind_of_entry_comes_back_from_the_journal_exactly(store: Store) -> None:
    posted = dataclasses.replace(
        message("ana", "hello", T0, reply_to_author="bo", mentions=("cy",)),
        author_joined_at=T0 - timedelta(days=3), author_roles=frozenset({"mod"}),
    )  # fmt: skip
    entries = [
        (1, posted, {"attack": 0.25}),
        (2, MessageEdited(posted.id, T0 + MIN, "hello again"), None),
        (3, MessageDeleted(posted.id, T0 + 2 * MIN), None),
        (4, MemberJoined(T0 + 3 * MIN, "guild", "dee"), None),
        (5, Tick(T0 + 4 * MIN), None),
    ]
    assert store.journal.append(entries) == [True] * 5
    assert [(r.seq, r.entry, r.scores) for r in store.journal.since(0)] == entries


def test_an_event_delivered_again_in_a_later_batch_is_not_journaled_again(store: Store) -> None:
    posted = message("ana", "hello", T0)
    assert store.journal.append([(1, posted, None)]) == [True]
    again = MessageDeleted("m-x", T0 + MIN)
    assert store.journal.append([(2, posted, None), (3, again, None)]) == [False, True]
    assert [row.seq for row in store.journal.since(0)] == [1, 3]


def test_a_journal_row_is_written_from_one_encoding_that_reads_back_as_the_entry() -> None:
    posted = message("ana", "hello", T0, id="m1")
    entries = [
        (1, posted, {"attack": 0.25, "toxicity": 1e-07}),
        (2, dataclasses.replace(posted, id="m2", text="naïve — «dosis» 用量"), {"attack": 0.5}),
        (3, MessageEdited("m1", T0 + MIN, "hello again"), None),
        (4, Tick(T0 + 2 * MIN), None),
    ]
    rows = journal_rows(entries)
    for row, (seq, entry, scores) in zip(rows, entries, strict=True):
        payload = json.loads(row["payload"].text)
        assert payload == encode(entry, scores)
        assert decode(payload) == (entry, scores)
        assert row["digest"] == digest(encode(entry, scores))  # as a redelivery is recognised
        assert (row["seq"], row["kind"]) == (seq, payload["_kind"])
    assert rows[1]["payload"].text.isascii()  # other scripts as JSON escapes, as before
    assert rows[3]["digest"] is None


def test_an_entrys_digest_does_not_depend_on_key_order() -> None:
    payload = encode(message("ana", "hello", T0, id="m1"), {"a": 0.1, "b": 0.2})
    shuffled = dict(reversed(list(payload.items())))
    assert digest(shuffled) == digest(payload)


def test_a_journal_row_of_an_unknown_format_is_refused_naming_it() -> None:
    payload = {**encode(Tick(T0), None), "_v": 99}
    with pytest.raises(StorageError, match=r"journal row of unknown format 99"):
        decode(payload)


# -- erasure of a member in the audit --------------------------------------------------------------


def _audit(store: Store, reason: str, recipient: str = "ana", key: str = "k1") -> None:
    decision = prompt(member=recipient, reason=reason)
    store.audit.append(
        AuditEntry.of(decision, Outcome.SENT, at=T0, provenance=LIVE, decision_key=key)
    )


def test_erasure_pseudonymises_exactly_the_audit_rows_naming_the_member(store: Store) -> None:
    _audit(store, "Three members replied to a_b.", recipient="a_b", key="k1")
    _audit(store, "bo answered a_b twice.", recipient="bo", key="k2")
    _audit(store, "Three members replied to axb.", recipient="axb", key="k3")  # "_" is no wildcard
    _audit(store, "Nothing about them.", recipient="cy", key="k4")
    _audit(store, "Replies to a_bc.", recipient="cy", key="k5")  # found by the search, not them
    erased = store.erase_member("discord", "a_b", now=T0 + MIN)
    assert erased.audit_rows_pseudonymised == 2
    rows = {e.reason: e for e in store.audit.entries()}
    first = rows[f"Three members replied to {erased.marker}."]
    assert first.recipient == erased.marker
    assert first.decision_key not in (None, "k1")  # the member's own key is replaced too
    second = rows[f"bo answered {erased.marker} twice."]
    assert (second.recipient, second.decision_key) == ("bo", "k2")
    assert rows["Three members replied to axb."].recipient == "axb"
    assert rows["Nothing about them."].decision_key == "k4"
    assert (rows["Replies to a_bc."].recipient, rows["Replies to a_bc."].decision_key) == (
        "cy",
        "k5",
    )
    assert store.erase_member("discord", "a_b", now=T0 + MIN).audit_rows_pseudonymised == 0


def test_erasure_on_one_platform_leaves_another_platforms_reply_links(store: Store) -> None:
    store.messages.record("discord", message("bo", "to ana", T0, reply_to_author="ana"), {})
    store.messages.record("telegram", message("bo", "to ana", T0, reply_to_author="ana"), {})
    erased = store.erase_member("discord", "ana", now=T0 + MIN)
    here = store.messages.conversation("discord", HERE_T1, since=T0)
    there = store.messages.conversation("telegram", HERE_T1, since=T0)
    assert [m.reply_to_author for m in here] == [erased.marker]
    assert [m.reply_to_author for m in there] == ["ana"]


HERE_T1 = ConversationKey("c", "general", "t1")  # where tests.builders.message posts


# -- the message log -------------------------------------------------------------------------------


def test_a_conversation_is_read_oldest_first_up_to_200_messages_by_default(store: Store) -> None:
    for i in range(201):
        store.messages.record("discord", message(f"u{i}", "x", T0 + i * MIN, id=f"m{i:03}"), {})
    read = store.messages.conversation("discord", HERE_T1, since=T0)
    assert len(read) == 200
    assert (read[0].message_id, read[-1].message_id) == ("m000", "m199")
    assert len(store.messages.conversation("discord", HERE_T1, since=T0, limit=201)) == 201
