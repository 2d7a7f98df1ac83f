"""More of the store's contracts, found unchecked by mutation testing (issue 18, seed 31): an audit
line appended once, the distributed judges' partition epochs, acknowledgements and alerts as the
outcome report reads them, outcome measures by name, the feedback's communities, what erasure does
to another platform's mentions and to a member's pending and done prompts, which URLs are SQLite
files, and the journal digest as a stored format. On SQLite and, when LONGFORM_TEST_POSTGRES_URL
is set, PostgreSQL (the fixtures of test_storage.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.decisions import AlertModerators, Evidence, Signal
from bot.core.events import ConversationKey
from bot.core.outcomes import OutcomeRecord
from bot.storage import Outcome, Store, Verdict
from bot.storage.audit import AuditEntry
from bot.storage.codec import decision_key
from bot.storage.journal import digest, encode
from bot.storage.store import sqlite_path
from tests import test_storage
from tests.builders import MIN, T0, message
from tests.test_storage import HERE, LIVE, prompt

# The store fixtures of test_storage.py (SQLite, and PostgreSQL when it is configured).
database_url = test_storage.database_url
store = test_storage.store

HERE_T1 = ConversationKey("c", "general", "t1")  # where tests.builders.message posts


# -- the audit ---------------------------------------------------------------------------------------


def test_an_audit_line_appended_once_is_stored_once(store: Store) -> None:
    entry = AuditEntry.of(prompt(), Outcome.SENT, at=T0, provenance=LIVE, decision_key="k1")
    assert store.audit.append_once(entry) is True
    assert store.audit.append_once(entry) is False
    assert [(e.decision_key, e.outcome) for e in store.audit.entries()] == [("k1", Outcome.SENT)]


# -- the distributed judges' partitions --------------------------------------------------------------


def test_a_partition_claimed_again_gets_the_next_epoch_and_a_stale_judge_cannot_save(
    store: Store,
) -> None:
    first = store.partitions.claim("events", 3, now=T0)
    assert (first.epoch, first.stream_seq, first.blob) == (1, 0, {})
    assert store.partitions.save("events", 3, first.epoch, 40, {"m": 1}, now=T0 + MIN) is True
    second = store.partitions.claim("events", 3, now=T0 + 2 * MIN)
    assert (second.epoch, second.stream_seq, second.blob) == (2, 40, {"m": 1})
    # The judge that lost the partition cannot overwrite what its successor will save.
    assert store.partitions.save("events", 3, first.epoch, 99, {"m": 2}, now=T0 + 3 * MIN) is False
    other = store.partitions.claim("other-stream", 3, now=T0)
    assert (other.epoch, other.stream_seq) == (1, 0)  # another stream's partition 3 is its own
    third = store.partitions.claim("events", 3, now=T0 + 4 * MIN)
    assert (third.epoch, third.stream_seq, third.blob) == (3, 40, {"m": 1})


# -- outcomes: acknowledgements, alerts, measures ----------------------------------------------------


def _alert(community: str, message_id: str) -> AlertModerators:
    return AlertModerators(ConversationKey(community, "general", "t1"), message_id, T0,
                           Signal.PILE_ON, "r", Evidence(), text="Look")  # fmt: skip


def _sent(store: Store, alert: AlertModerators, outcome: Outcome = Outcome.SENT) -> str:
    key = decision_key(alert, "replay")
    store.audit.append(AuditEntry.of(alert, outcome, at=T0, provenance=LIVE, decision_key=key))
    return key


def test_an_acknowledgement_stamped_before_the_alert_counts_as_at_once_and_only_once(
    store: Store,
) -> None:
    key = _sent(store, _alert("replay:c", "m1"))
    # A platform's clock a little behind ours: never a negative time to acknowledge.
    assert store.outcomes.acknowledge(key, by_platform="replay", at=T0 - MIN) == 0.0
    assert store.outcomes.acknowledge(key, by_platform="replay", at=T0 + MIN) is None
    (found,) = store.outcomes.alerts("replay:c")
    assert found.minutes_to_ack == 0.0


def test_alerts_are_the_sent_ones_of_the_chosen_community(store: Store) -> None:
    _sent(store, _alert("replay:c", "m1"))
    _sent(store, _alert("replay:c", "m2"), Outcome.DECIDED)  # decided, never sent
    _sent(store, _alert("replay:d", "m3"))
    assert [a.community for a in store.outcomes.alerts("replay:c")] == ["replay:c"]
    assert sorted(a.community for a in store.outcomes.alerts()) == ["replay:c", "replay:d"]


def test_stored_outcomes_keep_each_measure_under_its_name(store: Store) -> None:
    record = OutcomeRecord("post_notice", HERE, "m1", Signal.PILE_ON, None, "", T0, T0 + MIN,
                           (("heat_15", 0.5), ("replies_15", 3.0)))  # fmt: skip
    assert store.outcomes.add([record], "discord") == 1
    (stored,) = store.outcomes.read()
    assert stored.measures == {"heat_15": 0.5, "replies_15": 3.0}


# -- feedback ----------------------------------------------------------------------------------------


def test_the_feedbacks_communities_are_each_named_once_in_order(store: Store) -> None:
    for message_id, community in (("m1", "discord:2"), ("m2", "discord:1"), ("m3", "discord:2"),
                                  ("m4", "")):  # fmt: skip
        store.feedback.add("discord", "pile_on", Verdict.WRONG, by="mod", at=T0,
                           message_id=message_id, community=community)  # fmt: skip
    assert store.feedback.communities() == ["discord:1", "discord:2"]


# -- erasure -----------------------------------------------------------------------------------------


def test_erasure_on_one_platform_leaves_another_platforms_mentions(store: Store) -> None:
    store.messages.record("discord", message("bo", "cc ana", T0, mentions=("ana",)), {})
    store.messages.record("telegram", message("bo", "cc ana", T0, mentions=("ana",)), {})
    erased = store.erase_member("discord", "ana", now=T0 + MIN)
    here = store.messages.conversation("discord", HERE_T1, since=T0)
    there = store.messages.conversation("telegram", HERE_T1, since=T0)
    assert [m.mentions for m in here] == [(erased.marker,)]
    assert [m.mentions for m in there] == [("ana",)]


def test_erasure_expires_a_members_pending_prompt_in_the_audit_and_drops_a_done_one_quietly(
    store: Store,
) -> None:
    [pending] = store.outbox.enqueue([prompt(member="ana", message_id="m2")], now=T0,
                                     provenance=LIVE)  # fmt: skip
    [done] = store.outbox.enqueue([prompt(member="ana", message_id="m3")], now=T0 + MIN,
                                  provenance=LIVE)  # fmt: skip
    claimed = store.outbox.claim_due(T0 + MIN, limit=10)
    assert {item.id for item in claimed} == {pending, done}
    store.outbox.mark_failed(pending, "rate limited", T0 + 5 * MIN, now=T0 + MIN)  # pending again
    store.outbox.mark_done(done, Outcome.SENT, now=T0 + MIN)
    store.erase_member("discord", "ana", now=T0 + 2 * MIN)
    assert (store.outbox.get(pending), store.outbox.get(done)) == (None, None)
    expired = [e for e in store.audit.entries() if e.outcome is Outcome.EXPIRED]
    assert [(e.message_id, e.detail) for e in expired] == [("m2", "the member asked to be erased")]


# -- URLs and the journal's stored digests -----------------------------------------------------------


def test_a_sqlite_url_names_its_file_and_a_server_url_none(tmp_path: Path) -> None:
    assert (
        sqlite_path(f"sqlite:///{tmp_path}/data/longform.db") == tmp_path / "data" / "longform.db"
    )
    assert sqlite_path("sqlite://") is None  # in memory
    assert sqlite_path("postgresql+psycopg://u@127.0.0.1:5432/db") is None


def test_a_journal_digest_is_a_stored_format_that_does_not_change_with_the_text() -> None:
    # A journal written before an upgrade must still recognise an event delivered again: the
    # digest of this event (non-ASCII text, scores left out) is fixed.
    payload = encode(message("zoë", "Grüße, 医生 — naïve?", T0, id="m1"), {"attack": 0.5})
    assert digest(payload) == "d066848bb9cc3e61b8310b2d81b8abd2c2bbcf0a8de7e7dbac3e96a6acdf2fb3"
    assert digest({**payload, "scores": None}) == digest(payload)


def test_a_journal_digest_of_a_text_with_half_a_surrogate_pair_is_still_made() -> None:
    payload = encode(message("ana", "half \ud800 pair", T0, id="m2"), None)
    found = digest(payload)
    assert found is not None
    assert len(found) == 64


@pytest.mark.parametrize("text", ["a", "b"])
def test_a_journal_digest_differs_with_the_text(text: str) -> None:
    base = encode(message("ana", "x", T0, id="m3"), None)
    assert digest({**base, "text": text}) != digest(base)


# -- seed 35's survivors ------------------------------------------------------------------------------


def test_an_audit_line_written_once_in_a_batch_is_stored_once(store: Store) -> None:
    entry = AuditEntry.of(prompt(), Outcome.SENT, at=T0, provenance=LIVE, decision_key="k2")
    with store.batch() as batch:
        assert batch.audit_once(entry) is True
    with store.batch() as batch:
        assert batch.audit_once(entry) is False
    assert [e.decision_key for e in store.audit.entries()] == ["k2"]


def test_an_acknowledgement_is_timed_in_minutes(store: Store) -> None:
    key = _sent(store, _alert("replay:c", "m1"))
    assert store.outcomes.acknowledge(key, by_platform="replay", at=T0 + 6 * MIN) == 6.0


def test_a_stored_outcome_keeps_its_signal_and_community(store: Store) -> None:
    record = OutcomeRecord("post_notice", HERE, "m1", Signal.ESCALATION, None, "", T0, T0 + MIN,
                           (("heat_15", 0.5),))  # fmt: skip
    store.outcomes.add([record], "discord")
    (stored,) = store.outcomes.read()
    assert (stored.community, stored.signal, stored.action) == (
        HERE.community, "escalation", "post_notice"
    )  # fmt: skip


def test_forgetting_a_stream_drops_its_partitions_only(store: Store) -> None:
    store.partitions.claim("events", 0, now=T0)
    store.partitions.claim("events", 1, now=T0)
    store.partitions.claim("kept", 0, now=T0)
    assert store.partitions.forget("events") == 2
    assert store.partitions.claim("kept", 0, now=T0).epoch == 2  # still there: claimed again
    assert store.partitions.claim("events", 0, now=T0).epoch == 1  # gone: starts afresh


def test_erasure_rewrites_another_members_pending_prompt_that_names_the_member(
    store: Store,
) -> None:
    [key] = store.outbox.enqueue([prompt(member="bo", reason="ana and bo argued.")], now=T0,
                                 provenance=LIVE)  # fmt: skip
    erased = store.erase_member("discord", "ana", now=T0 + MIN)
    item = store.outbox.get(key)
    assert item is not None
    assert item.decision.reason == f"{erased.marker} and bo argued."
    assert item.decision.member == "bo"  # bo's own prompt is still to be sent


def test_an_erased_members_expired_prompt_is_audited_under_a_pseudonymous_key(
    store: Store,
) -> None:
    [key] = store.outbox.enqueue([prompt(member="ana")], now=T0, provenance=LIVE)
    store.erase_member("discord", "ana", now=T0 + MIN)
    (expired,) = [e for e in store.audit.entries() if e.outcome is Outcome.EXPIRED]
    assert expired.decision_key not in (None, "", key)


def test_erasure_on_one_platform_leaves_another_platforms_audit_rows(store: Store) -> None:
    from bot.storage.audit import Provenance

    on_telegram = Provenance("telegram", "professional", "1", "live")
    store.audit.append(AuditEntry.of(prompt(member="ana"), Outcome.SENT, at=T0,
                                     provenance=on_telegram, decision_key="t1"))  # fmt: skip
    store.erase_member("discord", "ana", now=T0 + MIN)
    (kept,) = store.audit.entries()
    assert (kept.recipient, kept.decision_key) == ("ana", "t1")


def test_a_conversation_is_read_in_time_order_whatever_the_ids(store: Store) -> None:
    for id_, minute in (("m-a", 2), ("m-b", 0), ("m-c", 1)):
        store.messages.record("discord", message("bo", "x", T0 + minute * MIN, id=id_), {})
    read = store.messages.conversation("discord", HERE_T1, since=T0)
    assert [m.message_id for m in read] == ["m-b", "m-c", "m-a"]


def test_feedback_given_without_a_community_names_none(store: Store) -> None:
    store.feedback.add("discord", "pile_on", Verdict.HELPFUL, by="mod", at=T0, message_id="m1")
    assert store.feedback.communities() == []
    assert store.feedback.feedback_counts() == {"pile_on": (1, 0)}


def test_an_in_memory_store_keeps_what_it_wrote() -> None:
    with Store.open("sqlite://") as memory:
        [key] = memory.outbox.enqueue([prompt()], now=T0, provenance=LIVE)
        assert memory.outbox.get(key) is not None
        assert memory.outbox.pending() == 1
