"""Dashboard sign-in storage: links are single use and expire, only hashes are stored, and
erasing a member removes their links, sessions and the reply links that name them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.schema import DashboardSessionRow, SignInLinkRow
from bot.storage.store import Store
from tests.dashboard_support import NOW, message


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'longform.db'}") as opened:
        yield opened


def test_a_link_opens_one_session_and_is_stored_only_as_a_hash(store: Store) -> None:
    token = store.signins.issue("discord", "mo", ["discord:2", "discord:1", "discord:1"], now=NOW)
    with Session(store.engine) as session:
        [row] = session.scalars(select(SignInLinkRow))
        assert token not in (row.token_hash, row.member)
        assert row.communities == ["discord:1", "discord:2"]
    started = store.signins.redeem(token, now=NOW + timedelta(minutes=9))
    assert started is not None
    cookie, session_ = started
    assert store.signins.redeem(token, now=NOW + timedelta(minutes=9)) is None
    assert store.signins.session(cookie, now=NOW) == session_
    with Session(store.engine) as session:
        assert cookie not in {r.token_hash for r in session.scalars(select(DashboardSessionRow))}


def test_links_expire_after_ten_minutes_and_need_a_community(store: Store) -> None:
    token = store.signins.issue("discord", "mo", ["discord:1"], now=NOW)
    assert store.signins.redeem(token, now=NOW + timedelta(minutes=10)) is None
    with pytest.raises(ValueError, match="at least one community"):
        store.signins.issue("discord", "mo", [], now=NOW)
    assert store.signins.forget_expired(NOW + timedelta(minutes=11)) == 1


def test_erasing_a_member_removes_their_sign_ins_and_names_in_reply_links(store: Store) -> None:
    store.signins.redeem(store.signins.issue("discord", "ana", ["discord:1"], now=NOW), now=NOW)
    store.signins.issue("discord", "ana", ["discord:1"], now=NOW)
    store.messages.record("discord", message("m1", "ana", "hello", NOW), {})
    store.messages.record(
        "discord", message("m2", "ben", "@ana no", NOW, reply_to="m1", mentions=("ana", "cy")), {}
    )
    marker = store.erase_member("discord", "ana", now=NOW).marker
    with Session(store.engine) as session:
        assert list(session.scalars(select(SignInLinkRow))) == []
        assert list(session.scalars(select(DashboardSessionRow))) == []
    reply = store.messages.get("discord", "m2")
    assert reply is not None
    assert reply.mentions == (marker, "cy")
    assert reply.reply_to == "m1"
    assert store.messages.get("discord", "m1") is None
