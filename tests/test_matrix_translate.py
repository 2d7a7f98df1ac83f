"""Matrix events -> core events: pure, on events written as the homeserver sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.matrix import translate
from adapters.matrix.translate import Roster
from bot.config import Config
from bot.core.events import MemberJoined, MessageDeleted, MessageEdited, MessagePosted

ROOM, BOT, COMMUNITY = "!general:example.org", "@longform:example.org", "matrix:!space:example.org"
T0 = 1_780_000_000_000  # ms


@pytest.fixture
def roster() -> Roster:
    found = Roster(BOT, {ROOM: COMMUNITY})
    found.levels[ROOM] = {"users": {"@mo:example.org": 50}, "users_default": 0}
    return found


def message(event_id: str, sender: str, body: str, **content: Any) -> dict[str, Any]:
    return {"type": "m.room.message", "event_id": event_id, "sender": sender,
            "origin_server_ts": T0, "content": {"msgtype": "m.text", "body": body, **content}}  # fmt: skip


def test_a_reply_in_a_thread_names_its_thread_author_and_mentions(roster: Roster) -> None:
    translate.event(message("$root", "@ana:example.org", "Root"), ROOM, roster)
    raw = message("$r", "@bo:example.org", "> <@ana:example.org> Root\n\nNo, that is wrong",
                  formatted_body='<a href="https://matrix.to/#/@cy:example.org">Cy</a> no',
                  **{"m.mentions": {"user_ids": ["@ana:example.org"]},
                     "m.relates_to": {"rel_type": "m.thread", "event_id": "$root",
                                      "is_falling_back": False,
                                      "m.in_reply_to": {"event_id": "$root"}}})  # fmt: skip
    event = translate.event(raw, ROOM, roster)
    assert isinstance(event, MessagePosted)
    assert (event.community, event.channel, event.thread) == (COMMUNITY, ROOM, "$root")
    assert event.text == "No, that is wrong"  # the quoted fallback is not the member's text
    assert (event.reply_to, event.reply_to_author) == ("$root", "@ana:example.org")
    assert event.mentions == ("@ana:example.org", "@cy:example.org")
    assert event.at == datetime.fromtimestamp(T0 / 1000, UTC)


def test_a_threads_fallback_is_not_a_reply(roster: Roster) -> None:
    raw = message("$t", "@bo:example.org", "In the thread",
                  **{"m.relates_to": {"rel_type": "m.thread", "event_id": "$root",
                                      "is_falling_back": True,
                                      "m.in_reply_to": {"event_id": "$last"}}})  # fmt: skip
    event = translate.event(raw, ROOM, roster)
    assert isinstance(event, MessagePosted)
    assert event.reply_to is None


def test_moderators_carry_the_roles_a_policy_exempts(roster: Roster) -> None:
    event = translate.event(message("$m", "@mo:example.org", "Please keep it civil"), ROOM, roster)
    assert isinstance(event, MessagePosted)
    assert event.author_roles == translate.MODERATOR_ROLES


def test_edits_redactions_and_joins(roster: Roster) -> None:
    edit = message("$e", "@ana:example.org", "* fixed", **{
        "m.new_content": {"msgtype": "m.text", "body": "fixed"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}})  # fmt: skip
    assert translate.event(edit, ROOM, roster) == MessageEdited(
        "$orig", datetime.fromtimestamp(T0 / 1000, UTC), "fixed"
    )
    redaction = {"type": "m.room.redaction", "event_id": "$x", "sender": "@mo:example.org",
                 "origin_server_ts": T0, "redacts": "$orig", "content": {}}  # fmt: skip
    assert isinstance(translate.event(redaction, ROOM, roster), MessageDeleted)
    join = {"type": "m.room.member", "event_id": "$j", "sender": "@new:example.org",
            "state_key": "@new:example.org", "origin_server_ts": T0,
            "content": {"membership": "join"}}  # fmt: skip
    joined = translate.event(join, ROOM, roster)
    assert joined == MemberJoined(
        datetime.fromtimestamp(T0 / 1000, UTC), COMMUNITY, "@new:example.org"
    )
    profile_change = join | {"unsigned": {"prev_content": {"membership": "join"}}}
    assert translate.event(profile_change, ROOM, roster) is None


@pytest.mark.parametrize(
    "raw",
    [
        message("$own", BOT, "Longform's own notice"),
        message("$cmd", "@ana:example.org", "!longform status"),
        message("$n", "@otherbot:example.org", "A bot's notice", msgtype="m.notice"),
        message("$img", "@ana:example.org", "photo.png", msgtype="m.image"),
        message("$blank", "@ana:example.org", "   "),
    ],
)
def test_what_longform_ignores(roster: Roster, raw: dict[str, Any]) -> None:
    assert translate.event(raw, ROOM, roster) is None


def test_rooms_outside_the_config_are_ignored(roster: Roster) -> None:
    assert (
        translate.event(message("$o", "@ana:example.org", "Hi"), "!other:example.org", roster)
        is None
    )


@pytest.mark.parametrize(
    ("matrix", "problem"),
    [
        (
            {"homeserver": "matrix.example.org", "user_id": "@l:example.org"},
            "matrix.homeserver: give",
        ),
        (
            {"homeserver": "https://matrix.example.org", "user_id": "longform"},
            "matrix.user_id: give",
        ),
        (
            {"homeserver": "https://m.example.org", "user_id": "@l:m", "token_env": ""},
            "matrix.token_env",
        ),
    ],
)
def test_an_enabled_matrix_table_names_its_homeserver_user_and_token(
    matrix: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Config.model_validate({"matrix": {"enabled": True, **matrix}})


def test_a_misspelled_matrix_key_is_an_error() -> None:
    with pytest.raises(ValidationError, match="homserver"):
        Config.model_validate({"matrix": {"homserver": "https://m.example.org"}})
