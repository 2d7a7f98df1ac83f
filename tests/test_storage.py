"""The durable store, on SQLite and (when LONGFORM_TEST_POSTGRES_URL is set) on PostgreSQL."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import re
import threading
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, bindparam, event, inspect, select, text, update
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from bot.core.decisions import (
    AlertModerators,
    Decision,
    Evidence,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptKind,
    PromptMember,
    SetSlowMode,
    Signal,
    UndoActions,
)
from bot.core.events import ConversationKey, MemberJoined, MessageEdited
from bot.storage import (
    AuditEntry,
    AuditLog,
    EncodedJSON,
    OutboxState,
    Outcome,
    Provenance,
    StorageError,
    Store,
    Verdict,
    codec,
)
from bot.storage.journal import Tick
from bot.storage.schema import AuditRow, UTCDateTime
from bot.storage.store import create, upgrade
from tests.builders import MIN, T0, message
from tests.postgres_support import EXAMPLE_URL, POSTGRES_ENV, fresh_schema

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
HERE = ConversationKey("guild", "general", "t1")
EV = Evidence(("m1", "m2"), (("insult", 0.91),))
LIVE = Provenance("discord", "professional", "1", "live")


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/data/longform.db"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL variant: set {POSTGRES_ENV}, e.g. {EXAMPLE_URL}")
    with fresh_schema(base, "longform_test") as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url, erase_salt=b"test salt") as opened:
        yield opened


# -- builders -------------------------------------------------------------------------------


def prompt(
    member: str = "ana", at: datetime = T0, message_id: str = "m2", **kw: object
) -> PromptMember:
    values: dict[str, typing.Any] = {
        "reason": f"Three members replied to {member} within 4 minutes.",
        "evidence": EV,
        "text": f"Hi {member}, a few people replied at once.",
        **kw,
    }
    return PromptMember(HERE, message_id, at, Signal.PILE_ON, member=member,
                        kind=PromptKind.PILE_ON_TARGET, **values)  # fmt: skip


def notice(message_id: str = "m2", at: datetime = T0) -> PostNotice:
    return PostNotice(HERE, message_id, at, Signal.AD_HOMINEM, "Ad hominem.", EV, text="Ideas.")


EVERY_KIND: list[Decision] = [
    PostNotice(HERE, "m1", T0, Signal.AD_HOMINEM, "r", EV, text="n", offers_longform=True),
    prompt(severity=3),
    SetSlowMode(HERE, "m1", T0, Signal.ESCALATION, "r", EV, seconds=30, until=T0 + 10 * MIN),
    LiftSlowMode(HERE, "m1", T0 + 10 * MIN, Signal.ESCALATION, "done", Evidence(("m1",))),
    OpenLongformSpace(HERE, "m1", T0, Signal.LONG_EXCHANGE, "r", EV, title="Long form: t1",
                      template=("claim", "evidence"), participants=("ana", "bo"),
                      key_messages=("m1", "m2"), text="Room.", severity=2),
    UndoActions(HERE, "alert-1", T0, Signal.PILE_ON, "r", EV, undone="a" * 32, by="Dana"),
    AlertModerators(ConversationKey("g", "c"), "m9", T0, Signal.ESCALATION, "r", Evidence(),
                    text="Heads up"),
]  # fmt: skip


def claim_one(store: Store, now: datetime = T0) -> str:
    items = store.outbox.claim_due(now)
    assert len(items) == 1
    return items[0].id


# -- codec ----------------------------------------------------------------------------------


def test_codec_names_every_decision_kind() -> None:
    assert set(codec.KINDS.values()) == set(typing.get_args(Decision))
    assert {type(d) for d in EVERY_KIND} == set(typing.get_args(Decision))


@pytest.mark.parametrize("decision", EVERY_KIND, ids=lambda d: type(d).__name__)
def test_codec_round_trips_every_kind_exactly(decision: Decision) -> None:
    again = codec.loads(json.dumps(codec.encode(decision)))
    assert again == decision
    assert codec.encode(again) == codec.encode(decision)
    assert again.at.tzinfo == decision.at.tzinfo


_text = st.text(max_size=12)
_times = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))
_evidence = st.builds(
    Evidence,
    st.lists(_text, max_size=4).map(tuple),
    st.lists(st.tuples(_text, st.floats(allow_nan=False, allow_infinity=False)), max_size=3).map(
        tuple
    ),
)
_base = {
    "conversation": st.builds(ConversationKey, _text, _text, _text),
    "message_id": _text,
    "at": _times | st.datetimes(),
    "signal": st.sampled_from(Signal),
    "reason": _text,
    "evidence": _evidence,
    "severity": st.integers(-(2**31), 2**31),
}
_decisions = st.one_of(
    st.builds(PostNotice, **_base, text=_text, offers_longform=st.booleans()),
    st.builds(PromptMember, **_base, member=_text, kind=st.sampled_from(PromptKind), text=_text),
    st.builds(SetSlowMode, **_base, seconds=st.integers(0, 21600), until=_times),
    st.builds(LiftSlowMode, **_base),
    st.builds(
        OpenLongformSpace,
        **_base,
        title=_text,
        template=st.lists(_text).map(tuple),
        participants=st.lists(_text).map(tuple),
        key_messages=st.lists(_text).map(tuple),
        text=_text,
    ),
    st.builds(UndoActions, **_base, undone=_text, by=_text),
    st.builds(AlertModerators, **_base, text=_text),
)


@given(_decisions)
def test_codec_round_trip_is_exact_for_any_decision(decision: Decision) -> None:
    assert codec.loads(codec.dumps(decision)) == decision
    assert codec.dumps(codec.loads(codec.dumps(decision))) == codec.dumps(decision)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"_v": 2, "_kind": "post_notice"}, "unsupported decision format version 2"),
        ({"_v": 1, "_kind": "ban_member"}, "unknown decision kind 'ban_member'"),
        ({**codec.encode(notice()), "severity": "high"}, "post_notice.severity: "),
        (
            {k: v for k, v in codec.encode(notice()).items() if k != "text"},
            "post_notice: missing field 'text'",
        ),
    ],
)
def test_codec_rejects_what_it_cannot_read(payload: dict[str, object], problem: str) -> None:
    with pytest.raises(codec.CodecError, match=re.escape(problem)):
        codec.decode(payload)


def test_decision_key_ignores_wording_but_not_target() -> None:
    first = prompt()
    assert codec.decision_key(first, "discord") == codec.decision_key(
        prompt(text="Other words", evidence=Evidence(("m1", "m2", "m3")), severity=3), "discord"
    )
    assert codec.decision_key(first, "discord") != codec.decision_key(prompt("bo"), "discord")
    assert codec.decision_key(first, "discord") != codec.decision_key(first, "telegram")


# -- outbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", EVERY_KIND, ids=lambda d: type(d).__name__)
def test_outbox_stores_every_kind_exactly(store: Store, decision: Decision) -> None:
    [key] = store.outbox.enqueue([decision], now=T0, provenance=LIVE)
    item = store.outbox.get(key)
    assert item is not None
    assert item.decision == decision
    assert item.provenance == LIVE


def test_enqueue_is_idempotent(store: Store) -> None:
    keys = store.outbox.enqueue([prompt(), prompt()], now=T0, provenance=LIVE)
    again = store.outbox.enqueue(
        [prompt(text="Reworded", severity=3), notice()], now=T0 + MIN, provenance=LIVE
    )
    assert keys[0] == keys[1] == again[0] != again[1]
    assert len(store.outbox.claim_due(T0 + MIN, limit=10)) == 2
    decided = [e for e in store.audit.entries() if e.outcome == Outcome.DECIDED]
    assert [e.decision_key for e in decided] == [keys[0], again[1]]


def test_claim_hands_out_each_due_item_once_and_counts_attempts(store: Store) -> None:
    store.outbox.enqueue([prompt("ana"), prompt("bo"), notice()], now=T0, provenance=LIVE)
    assert store.outbox.claim_due(T0 - MIN) == []
    first = store.outbox.claim_due(T0, limit=2)
    rest = store.outbox.claim_due(T0, limit=2)
    assert [len(first), len(rest)] == [2, 1]
    assert store.outbox.claim_due(T0 + MIN) == []
    assert {i.state for i in first + rest} == {OutboxState.IN_FLIGHT}
    assert {i.attempts for i in first + rest} == {1}


def test_mark_done_records_outcome_once(store: Store) -> None:
    [key] = store.outbox.enqueue([prompt()], now=T0, provenance=LIVE)
    claim_one(store)
    store.outbox.mark_done(key, Outcome.DOWNGRADED, now=T0 + MIN, detail="DMs closed")
    store.outbox.mark_done(key, Outcome.DOWNGRADED, now=T0 + 2 * MIN)
    item = store.outbox.get(key)
    assert item is not None
    assert item.state == OutboxState.DONE
    trail = store.audit.entries(decision_key=key)
    assert [(e.outcome, e.detail) for e in trail] == [
        (Outcome.DECIDED, ""),
        (Outcome.DOWNGRADED, "DMs closed"),
    ]
    assert trail[1].at == T0 + MIN
    assert trail[1].recipient == "ana"
    with pytest.raises(ValueError, match="not a done outcome"):
        store.outbox.mark_done(key, Outcome.EXPIRED, now=T0)


def test_failed_attempt_is_retried_at_the_retry_time(store: Store) -> None:
    [key] = store.outbox.enqueue([notice()], now=T0, provenance=LIVE)
    claim_one(store)
    store.outbox.mark_failed(key, "429 Too Many Requests", T0 + 5 * MIN, now=T0)
    assert store.outbox.claim_due(T0 + 4 * MIN) == []
    [item] = store.outbox.claim_due(T0 + 5 * MIN)
    assert (item.attempts, item.last_error) == (2, "429 Too Many Requests")
    store.outbox.mark_failed(key, "403 Forbidden", None, now=T0 + 6 * MIN)
    item_after = store.outbox.get(key)
    assert item_after is not None
    assert item_after.state == OutboxState.FAILED
    assert store.audit.entries(decision_key=key)[-1].outcome == Outcome.FAILED
    with pytest.raises(StorageError, match="already failed"):
        store.outbox.mark_done(key, now=T0 + 7 * MIN)
    [done] = store.outbox.enqueue([prompt()], now=T0, provenance=LIVE)
    store.outbox.mark_done(claim_one(store), now=T0)
    with pytest.raises(StorageError, match="already done"):
        store.outbox.mark_failed(done, "late error", T0 + HOUR, now=T0)
    with pytest.raises(StorageError, match="no outbox item"):
        store.outbox.mark_done("missing", now=T0)


def test_recover_retries_what_a_crash_left_in_flight(database_url: str) -> None:
    with Store.open(database_url) as before:
        [key] = before.outbox.enqueue([prompt()], now=T0, provenance=LIVE)
        claim_one(before)  # the process dies here, before mark_done
    with Store.open(database_url) as after:
        assert after.outbox.claim_due(T0 + MIN) == []
        recovery = after.outbox.recover(T0 + MIN)
        assert (recovery.requeued, recovery.expired) == (1, 0)
        [item] = after.outbox.claim_due(T0 + MIN)
        assert (item.id, item.attempts) == (key, 2)


def test_expired_decisions_are_never_handed_out(store: Store) -> None:
    stale, in_flight = prompt("ana"), prompt("bo")
    store.outbox.enqueue([in_flight], now=T0, provenance=LIVE, ttl=HOUR)
    claim_one(store)
    store.outbox.enqueue([stale], now=T0, provenance=LIVE, ttl=HOUR)
    assert store.outbox.claim_due(T0 + 2 * HOUR) == []
    assert store.outbox.recover(T0 + 2 * HOUR).expired == 1  # the one left in flight
    expired = [e for e in store.audit.entries() if e.outcome == Outcome.EXPIRED]
    assert sorted(e.recipient or "" for e in expired) == ["ana", "bo"]
    assert all("expired at" in e.detail for e in expired)


def test_slow_mode_expires_at_its_end_and_its_lift_never_expires(store: Store) -> None:
    slow, lift = EVERY_KIND[2], EVERY_KIND[3]
    keys = store.outbox.enqueue([slow, lift], now=T0, provenance=LIVE, ttl=DAY)
    items = [store.outbox.get(key) for key in keys]
    assert [i.expires_at for i in items if i] == [T0 + 10 * MIN, None]
    assert [i.decision for i in store.outbox.claim_due(T0 + 30 * DAY)] == [lift]


def test_concurrent_claimers_never_share_an_item(store: Store) -> None:
    decisions = [prompt(f"member{n}") for n in range(40)]
    store.outbox.enqueue(decisions, now=T0, provenance=LIVE)
    claimed: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        while items := store.outbox.claim_due(T0, limit=3):
            with lock:
                claimed.extend(i.id for i in items)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == len(set(claimed)) == 40


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        store.outbox.enqueue([notice()], now=datetime(2026, 3, 2, 14), provenance=LIVE)


# -- audit ----------------------------------------------------------------------------------


def _entry(outcome: Outcome = Outcome.SUPPRESSED_SHADOW) -> AuditEntry:
    shadow = dataclasses.replace(LIVE, mode="shadow")
    return AuditEntry.of(prompt(), outcome, at=T0, provenance=shadow, detail="shadow mode")


def test_audit_api_offers_only_append_and_reads() -> None:
    # Names with "ǁ" are mutmut's copies of the methods (its trampolines), not API.
    public = {name for name in dir(AuditLog) if not name.startswith("_") and "ǁ" not in name}
    assert public == {"append", "append_once", "entries", "get"}


def test_audit_entries_round_trip_and_cannot_be_changed(store: Store) -> None:
    audit_id = store.audit.append(_entry())
    entry = store.audit.get(audit_id)
    assert entry == dataclasses.replace(_entry(), id=audit_id)
    assert entry is not None
    assert entry.at.tzinfo is UTC
    assert entry.place == "t1"
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'detail'"):
        entry.detail = "rewritten"  # type: ignore[misc]


def test_audit_rows_refuse_update_and_delete_on_every_path(store: Store) -> None:
    audit_id = store.audit.append(_entry())
    with Session(store.engine) as session:
        row = session.get(AuditRow, audit_id)
        assert row is not None
        row.detail = "rewritten"
        with pytest.raises(StorageError, match="append-only"):
            session.flush()
        session.rollback()
        session.delete(session.get(AuditRow, audit_id))
        with pytest.raises(StorageError, match="append-only"):
            session.flush()
    with store.engine.begin() as connection, pytest.raises(StorageError, match="append-only"):
        connection.execute(update(AuditRow).values(detail="rewritten"))
    assert store.audit.get(audit_id) == dataclasses.replace(_entry(), id=audit_id)


# -- retention, deletes and erasure -----------------------------------------------------------


def test_purge_drops_old_text_but_keeps_ids_and_scores(store: Store) -> None:
    old, new = message("ana", "old words", T0), message("bo", "new words", T0 + 20 * DAY)
    store.messages.record("discord", old, {"insult": 0.2})
    store.messages.record("discord", new, {"insult": 0.1})
    [key] = store.outbox.enqueue([prompt()], now=T0, provenance=LIVE)
    store.outbox.mark_done(claim_one(store), now=T0)
    report = store.purge(T0 + 31 * DAY, retention_days=30)
    assert (report.texts_dropped, report.outbox_deleted, report.audit_deleted) == (1, 1, 0)
    kept = store.messages.get("discord", old.id)
    assert kept is not None
    assert kept.text is None
    assert kept.scores == {"insult": 0.2}
    assert kept.author == "ana"
    assert kept.conversation == old.conversation
    assert store.messages.get("discord", new.id).text == "new words"  # type: ignore[union-attr]
    assert store.outbox.get(key) is None
    assert len(store.audit.entries()) == 2


def test_purge_deletes_audit_only_past_its_own_retention(store: Store) -> None:
    audit_id = store.audit.append(_entry())
    store.feedback.add("discord", "pile_on", Verdict.WRONG, by="mod", at=T0, audit_id=audit_id)
    assert store.purge(T0 + 100 * DAY, 30, audit_retention_days=365).audit_deleted == 0
    assert store.purge(T0 + 400 * DAY, 30, audit_retention_days=365).audit_deleted == 1
    assert store.audit.entries() == []
    assert store.feedback.feedback_counts() == {"pile_on": (0, 1)}


def test_forget_message_drops_its_text(store: Store) -> None:
    posted = message("ana", "regret this", T0)
    store.messages.record("discord", posted, {"insult": 0.7})
    assert store.messages.forget_message("discord", posted.id)
    assert not store.messages.forget_message("discord", "never-seen")
    kept = store.messages.get("discord", posted.id)
    assert kept is not None
    assert (kept.text, kept.scores) == (None, {"insult": 0.7})


def test_message_log_keeps_edits_and_reads_a_conversation(store: Store) -> None:
    first = message("ana", "draft", T0, thread="t1")
    store.messages.record("discord", first, {})
    store.messages.record("discord", dataclasses.replace(first, text="final"), {"insult": 0.0})
    store.messages.record("discord", message("bo", "reply", T0 + MIN, thread="t1"), {})
    store.messages.record("discord", message("cy", "elsewhere", T0, thread="t2"), {})
    seen = store.messages.conversation("discord", first.conversation, since=T0)
    assert [(m.author, m.text) for m in seen] == [("ana", "final"), ("bo", "reply")]
    assert seen[0].at == T0
    assert seen[0].at.tzinfo is UTC


def _all_text(store: Store) -> str:
    with store.engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        rows = [connection.execute(text(f"SELECT * FROM {t}")).all() for t in tables]
    return json.dumps([[list(map(str, row)) for row in table] for table in rows])


def test_erase_member_leaves_no_trace_of_their_id(store: Store) -> None:
    store.prefs.set_opt_out("discord", "guild", "ana", now=T0)
    store.prefs.set_opt_out("discord", "guild", "anastasia", now=T0)
    store.messages.record("discord", message("ana", "mine", T0, id="ana-1"), {"insult": 0.1})
    store.messages.record("discord", message("anastasia", "hers", T0, id="m-2"), {})
    sent, pending, mention = prompt("ana", message_id="m3"), prompt("ana"), prompt("anastasia")
    store.outbox.enqueue([sent], now=T0, provenance=LIVE)
    store.outbox.mark_done(claim_one(store), now=T0)
    store.outbox.enqueue([pending, mention], now=T0, provenance=LIVE)
    store.feedback.add("discord", "pile_on", Verdict.HELPFUL, by="ana", at=T0, message_id="m3")

    erasure = store.erase_member("discord", "ana", now=T0 + MIN)

    assert (erasure.prefs_deleted, erasure.messages_deleted) == (1, 1)
    assert erasure.feedback_rows_pseudonymised == 1
    assert erasure.marker.startswith("erased:")
    dump = _all_text(store)
    assert '"ana"' not in dump
    assert "ana " not in dump
    assert "ana," not in dump
    assert "anastasia" in dump  # a longer id that contains theirs is someone else
    assert store.prefs.is_opted_out("discord", "guild", "anastasia")
    assert store.messages.get("discord", "ana-1") is None
    assert store.feedback.feedback_counts() == {"pile_on": (1, 0)}
    trail = store.audit.entries()
    assert [e.outcome for e in trail if e.recipient == erasure.marker] == [
        Outcome.DECIDED, Outcome.SENT, Outcome.DECIDED, Outcome.EXPIRED,
    ]  # fmt: skip
    assert {e.message_id for e in trail} == {"m2", "m3"}  # evidence and ids stay
    assert [i.decision.member for i in store.outbox.claim_due(T0 + MIN)] == ["anastasia"]  # type: ignore[union-attr]


def test_erase_marker_is_stable_under_one_salt(database_url: str) -> None:
    with Store.open(database_url, erase_salt=b"s") as salted:
        first = salted.erase_member("discord", "ana", now=T0).marker
        assert salted.erase_member("discord", "ana", now=T0).marker == first
        assert salted.erase_member("telegram", "ana", now=T0).marker != first
    with Store.open(database_url) as unsalted:
        assert unsalted.erase_member("discord", "ana", now=T0).marker != first


# -- prefs, feedback, engine state ------------------------------------------------------------


def test_opt_out_per_community_wins_over_platform_wide(store: Store) -> None:
    assert not store.prefs.is_opted_out("discord", "guild", "ana")
    store.prefs.set_opt_out("discord", "", "ana", now=T0)
    assert store.prefs.is_opted_out("discord", "guild", "ana")
    assert not store.prefs.is_opted_out("telegram", "guild", "ana")
    store.prefs.set_opt_out("discord", "guild", "ana", False, now=T0 + MIN)
    assert not store.prefs.is_opted_out("discord", "guild", "ana")
    assert store.prefs.is_opted_out("discord", "other", "ana")


def test_feedback_counts_per_signal(store: Store) -> None:
    for signal, verdict in [("pile_on", Verdict.HELPFUL), ("pile_on", Verdict.HELPFUL),
                            ("pile_on", Verdict.WRONG), ("ad_hominem", Verdict.WRONG)]:  # fmt: skip
        store.feedback.add("discord", signal, verdict, by="mod", at=T0, message_id="m1")
    assert store.feedback.feedback_counts() == {"pile_on": (2, 1), "ad_hominem": (0, 1)}
    with pytest.raises(ValueError, match="audit_id or a message_id"):
        store.feedback.add("discord", "pile_on", Verdict.WRONG, by="mod", at=T0)


def test_engine_state_round_trips_and_replaces(store: Store) -> None:
    blob = {"windows": [{"id": "m1", "score": 0.25, "authors": ["ana", "bo"]}], "n": 3, "x": None}
    assert store.states.load("engine") is None
    store.states.save("engine", blob, version=1, now=T0)
    saved = store.states.load("engine")
    assert saved is not None
    assert (saved.blob, saved.version, saved.saved_at) == (blob, 1, T0)
    store.states.save("engine", {"n": 4}, version=2, now=T0 + MIN)
    replaced = store.states.load("engine")
    assert replaced is not None
    assert (replaced.blob, replaced.version) == ({"n": 4}, 2)


def test_a_saved_snapshot_is_not_kept_alive_by_the_store(store: Store) -> None:
    # SQLAlchemy caches the first statement of each shape, with any value built into it: a
    # snapshot (tens of MiB) must reach the database as a parameter, or it lives for good.
    for number in range(3):
        store.states.save("engine:y", EncodedJSON(f'{{"mark": "kept-{number}"}}'), version=2,
                          now=T0)  # fmt: skip
        epoch = store.partitions.claim("stream-y", 0, now=T0).epoch
        part = EncodedJSON(f'{{"mark": "part-{number}"}}')
        assert store.partitions.save("stream-y", 0, epoch, 5, part, now=T0)
    del part  # the test's own reference
    gc.collect()
    # type(), not isinstance: some objects of other libraries warn when asked for __class__.
    alive = [o.text for o in gc.get_objects() if type(o) is EncodedJSON and "mark" in o.text]
    assert alive == []
    saved = store.states.load("engine:y")
    assert saved is not None
    assert saved.blob == {"mark": "kept-2"}


def test_engine_state_already_written_as_json_text_is_stored_as_that_json(store: Store) -> None:
    # An engine snapshot arrives as JSON text (written a slice at a time): stored as it is, it
    # reads back as the value the text spells, not as one string.
    text = '{"journal_seq": 7, "engine": {"rows": [[1, 2.5, "a"], [2, 0.125, "b"]]}}'
    store.states.save("engine:x", EncodedJSON(text), version=2, now=T0)
    saved = store.states.load("engine:x")
    assert saved is not None
    assert saved.blob == json.loads(text)
    store.states.save("engine:x", {"plain": [1]}, version=2, now=T0)  # plain values still work
    again = store.states.load("engine:x")
    assert again is not None
    assert again.blob == {"plain": [1]}


# -- opening and migrations ------------------------------------------------------------------


def test_upgrade_from_0001_keeps_existing_rows(database_url: str) -> None:
    engine = create(database_url)
    upgrade(engine, "0001")
    row = {"p": codec.encode(prompt()), "t": T0, "s": {"insult": 0.5}}
    typed = [bindparam("p", type_=JSON), bindparam("t", type_=UTCDateTime()),
             bindparam("s", type_=JSON)]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO outbox VALUES ('k1', 'discord', 'prompt_member', :p, 'pending', 0, "
                 ":t, :t, NULL, NULL, NULL, 'professional', '1', 'live')").bindparams(*typed[:2]),
            row,
        )  # fmt: skip
        connection.execute(
            text("INSERT INTO message_log VALUES ('discord', 'm1', 'guild', 'general', 't1', "
                 "'ana', :t, :s, 'hello')").bindparams(*typed[1:]),
            row,
        )  # fmt: skip
    engine.dispose()
    with Store.open(database_url) as store:
        assert store.revision() == "0007"
        [item] = store.outbox.claim_due(T0)
        assert (item.id, item.decision, item.created_at) == ("k1", prompt(), T0)
        logged = store.messages.get("discord", "m1")
        assert logged is not None
        assert (logged.text, logged.scores) == ("hello", {"insult": 0.5})
        with store.engine.connect() as connection:
            indexes = {i["name"] for i in inspect(connection).get_indexes("outbox")}
        assert "ix_outbox_due" in indexes


def test_open_refuses_a_newer_schema(database_url: str) -> None:
    Store.open(database_url).close()
    engine = create(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StorageError, match=r"revision '9999'.*Fix: upgrade Longform"):
        Store.open(database_url)


def test_open_names_the_url_and_the_fix_when_unreachable() -> None:
    pytest.importorskip("psycopg", reason="the PostgreSQL driver: pip install 'psycopg[binary]'")
    url = "postgresql://nobody:secret@127.0.0.1:1/longform"
    with pytest.raises(StorageError, match="cannot open the database") as caught:
        Store.open(url)
    message_text = str(caught.value)
    assert "postgresql+psycopg://nobody:***@127.0.0.1:1/longform" in message_text
    assert "Fix: check that the server is running" in message_text
    assert "secret" not in message_text


def test_open_reports_a_path_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = f"{tmp_path}/file"
    with open(blocker, "w") as handle:
        handle.write("not a directory")
    with pytest.raises(StorageError, match=r"cannot open the database sqlite:///.*Fix"):
        Store.open(f"{blocker}/longform.db")
    with pytest.raises(StorageError, match="not a URL"):
        Store.open("::not a url://")
    with pytest.raises(StorageError, match="no driver for 'nosuchdb'"):
        Store.open("nosuchdb://host/db")


def test_a_bare_path_opens_sqlite_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    with Store.open(f"{tmp_path}/nested/dir/longform.db") as store:
        assert store.url.startswith("sqlite:///")
        assert store.url.endswith("nested/dir/longform.db")
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(select(AuditRow)).all() == []


# -- the event journal ------------------------------------------------------------------------


def test_journal_keeps_events_and_ticks_in_order_and_each_event_once(store: Store) -> None:
    posted = message(author="ana", text="You clearly never read it.", at=T0)
    edited = MessageEdited(posted.id, T0 + MIN, "You may not have read it.")
    added = store.journal.append([(1, posted, {"attack": 0.9}), (2, Tick(T0 + 2 * MIN), None),
                                  (3, edited, None), (4, posted, {"attack": 0.9})])  # fmt: skip
    assert added == [True, True, True, False]  # the repeat of the first event is not stored
    rows = store.journal.since(0)
    assert [(row.seq, row.entry, row.scores) for row in rows] == [
        (1, posted, {"attack": 0.9}), (2, Tick(T0 + 2 * MIN), None), (3, edited, None)
    ]  # fmt: skip
    assert store.journal.append([(5, Tick(T0 + 2 * MIN), None)]) == [True]  # ticks repeat
    assert store.journal.last_seq() == 5
    assert [row.seq for row in store.journal.since(2)] == [3, 5]
    assert store.journal.prune(3) == 3
    assert [row.seq for row in store.journal.since(0)] == [5]


def test_pruning_the_journal_deletes_in_short_transactions(store: Store) -> None:
    # A minute of a busy service's journal deleted at once held SQLite's writer for seconds.
    store.journal.append([(seq, Tick(T0 + seq * MIN), None) for seq in (3, 4, 5, 6, 8, 9, 11)])
    deletes: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        assert store.journal.prune(9, step=2) == 6
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert [row.seq for row in store.journal.since(0)] == [11]
    assert len(deletes) == 4  # sequence numbers 3-4, 5-6, 7-8, 9: one transaction each
    assert store.journal.prune(9) == 0  # nothing left to prune: no error, nothing deleted
    assert store.journal.prune(20) == 1


def test_erasing_a_member_deletes_their_journal_rows_and_edits(store: Store) -> None:
    mine = message(author="ana", text="mine", at=T0)
    theirs = message(author="bo", text="theirs", at=T0 + MIN)
    store.journal.append([(1, mine, None), (2, theirs, None),
                          (3, MessageEdited(mine.id, T0 + 2 * MIN, "mine, edited"), None),
                          (4, MemberJoined(T0, mine.community, "ana"), None)])  # fmt: skip
    platform = mine.community.partition(":")[0]
    erased = store.erase_member(platform, "ana", now=T0 + 3 * MIN)
    assert erased.journal_rows_deleted == 3
    assert [row.entry for row in store.journal.since(0)] == [theirs]


# -- outcomes of interventions (issue 17) ---------------------------------------------------


def test_outcomes_are_read_with_the_arm_their_audit_lines_give(store: Store) -> None:
    from bot.core.outcomes import OutcomeRecord
    from bot.storage.codec import decision_key

    sent, held = notice("m1"), notice("m2")
    records = [
        OutcomeRecord("post_notice", HERE, d.message_id, d.signal, HERE.place, "", T0,
                      T0 + 60 * MIN, (("cooled_15", 1.0),))
        for d in (sent, held)
    ]  # fmt: skip
    for decision, outcome in ((sent, Outcome.SENT), (held, Outcome.HELD_BACK)):
        store.audit.append(AuditEntry.of(decision, outcome, at=T0, provenance=LIVE,
                                         decision_key=decision_key(decision, "discord")))  # fmt: skip
    assert store.outcomes.add(records, "discord") == 2
    assert store.outcomes.add(records, "discord") == 0
    arms = {o.decided_at: o.arm for o in store.outcomes.read(HERE.community)}
    assert sorted(o.arm for o in store.outcomes.read()) == ["control", "treated"]
    assert arms
    assert store.outcomes.read("elsewhere") == []
    assert store.outcomes.read(since=T0 + MIN) == []
