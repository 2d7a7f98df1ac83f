"""PTB messages and member updates -> core events, on their own (no server, no Application).

Messages are made by the fake server's world (the same JSON Telegram sends) and parsed by PTB.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import ChatMemberUpdated, Message

from adapters.telegram.community import Community
from adapters.telegram.roster import Roster
from adapters.telegram.translate import (
    admin_change,
    member_joined,
    members_joined,
    message_edited,
    message_posted,
)
from bot.core.events import MemberJoined, MessageEdited
from tests.fakes.telegram_world import FakeChat, FakeUser, Member, World

BOT = FakeUser(777, "Longform", username="longform_bot", is_bot=True)
ANA = FakeUser(1001, "Ana", username="ana_md")
BEN = FakeUser(1002, "Ben", username="ben_phd")
CAL = FakeUser(1003, "Cal")
GROUP, FORUM, OTHER = -1001000000001, -1001000000002, -1001000000099
T0 = 1_780_000_000
KNOWN = {GROUP: Community(GROUP, moderators=-1009), FORUM: Community(FORUM, moderators=-1009)}


@pytest.fixture
def world() -> World:
    world = World(BOT, clock=lambda: T0)
    for chat_id, forum in ((GROUP, False), (FORUM, True), (OTHER, False)):
        world.add_group(chat_id, f"Group {chat_id}", forum=forum, owner=ANA, members=[BEN, CAL])
    return world


def parsed(payload: dict[str, Any]) -> Message:
    message = Message.de_json(payload, None)
    assert message is not None
    return message


def post(world: World, chat_id: int, user: FakeUser, text: str, **options: Any) -> Message:
    return parsed(world.new_message(world.chat(chat_id), user, text=text, **options))


def topic(world: World, chat_id: int, name: str) -> int:
    chat = world.chat(chat_id)
    created = world.new_message(chat, ANA, forum_topic_created={"name": name, "icon_color": 1})
    thread = created["message_id"]
    created["message_thread_id"], created["is_topic_message"] = thread, True
    return int(thread)


def test_group_message_becomes_message_posted_with_per_chat_ids(world: World) -> None:
    message = post(world, GROUP, ANA, "The trial used 5 mg.")
    event = message_posted(message, KNOWN, Roster(), BOT.id)
    assert event is not None
    assert (event.id, event.community, event.channel, event.thread) == (
        f"{GROUP}:{message.message_id}", f"telegram:{GROUP}", str(GROUP), "")  # fmt: skip
    assert (event.author, event.text, event.reply_to) == ("1001", "The trial used 5 mg.", None)
    assert event.at == datetime.fromtimestamp(T0, UTC)


def test_topic_message_is_in_the_topic_and_its_creation_message_is_not_a_reply(
    world: World,
) -> None:
    thread = topic(world, FORUM, "Dosing")
    first = post(world, FORUM, ANA, "Claim.", thread_id=thread)
    assert first.reply_to_message is not None  # Telegram's way: the topic's creation message
    event = message_posted(first, KNOWN, Roster(), BOT.id)
    assert event is not None
    assert (event.thread, event.reply_to, event.reply_to_author) == (str(thread), None, None)


def test_reply_in_a_topic_names_the_replied_message_and_its_author(world: World) -> None:
    thread = topic(world, FORUM, "Dosing")
    first = world.new_message(world.chat(FORUM), ANA, thread_id=thread, text="Claim.")
    reply = post(world, FORUM, BEN, "No.", thread_id=thread, reply_to=first)
    event = message_posted(reply, KNOWN, Roster(), BOT.id)
    assert event is not None
    assert (event.reply_to, event.reply_to_author) == (f"{FORUM}:{first['message_id']}", "1001")


def test_mentions_come_from_text_mentions_and_known_usernames_only(world: World) -> None:
    roster = Roster(usernames={"ana_md": ANA.id})
    text = "@ana_md and Cal, @stranger and @longform_bot"
    entities = [
        {"type": "mention", "offset": 0, "length": 7},
        {"type": "text_mention", "offset": 12, "length": 3, "user": CAL.to_api()},
        {"type": "mention", "offset": 17, "length": 9},
        {"type": "mention", "offset": 31, "length": 13},
    ]
    roster.usernames["longform_bot"] = BOT.id
    event = message_posted(post(world, GROUP, BEN, text, entities=entities), KNOWN, roster, BOT.id)
    assert event is not None
    assert event.mentions == ("1001", "1003")


def test_admins_carry_the_roles_a_policy_exempts(world: World) -> None:
    roster = Roster()
    roster.set_admins(GROUP, [ANA.id])
    event = message_posted(post(world, GROUP, ANA, "As a moderator: calm."), KNOWN, roster, BOT.id)
    assert event is not None
    assert "moderator" in event.author_roles


def test_caption_counts_as_text(world: World) -> None:
    message = parsed(world.new_message(world.chat(GROUP), BEN, caption="Look at this figure"))
    event = message_posted(message, KNOWN, Roster(), BOT.id)
    assert event is not None
    assert event.text == "Look at this figure"


@pytest.mark.parametrize(
    ("chat_id", "user", "text", "extra"),
    [
        (OTHER, ANA, "not a served group", {}),
        (GROUP, BOT, "Longform's own notice", {}),
        (GROUP, ANA, "/status", {"entities": [{"type": "bot_command", "offset": 0, "length": 7}]}),
        (GROUP, ANA, "   ", {}),
        (GROUP, ANA, "as the group", {"sender_chat": {"id": GROUP, "type": "supergroup"}}),
    ],
)
def test_what_longform_ignores(world: World, chat_id: int, user: FakeUser, text: str,
                               extra: dict[str, Any]) -> None:  # fmt: skip
    assert (
        message_posted(post(world, chat_id, user, text, **extra), KNOWN, Roster(), BOT.id) is None
    )


def test_private_chats_are_ignored(world: World) -> None:
    private = world.private_chat(ANA)
    message = parsed(world.new_message(private, ANA, text="hello"))
    assert message_posted(message, {ANA.id: Community(ANA.id)}, Roster(), BOT.id) is None


def test_unwatched_topics_are_ignored(world: World) -> None:
    watched, other = topic(world, FORUM, "Watched"), topic(world, FORUM, "Other")
    known = {FORUM: Community(FORUM, topics=frozenset({watched}))}
    assert message_posted(post(world, FORUM, BEN, "x", thread_id=watched), known, Roster(), 1)
    assert message_posted(post(world, FORUM, BEN, "x", thread_id=other), known, Roster(), 1) is None


def test_edit_becomes_message_edited_at_the_edit_time(world: World) -> None:
    payload = world.new_message(world.chat(GROUP), BEN, text="You are wrong.")
    payload |= {"text": "I think this is wrong.", "edit_date": T0 + 60}
    event = message_edited(parsed(payload), KNOWN)
    assert event == MessageEdited(f"{GROUP}:{payload['message_id']}",
                                  datetime.fromtimestamp(T0 + 60, UTC), "I think this is wrong.")  # fmt: skip


def test_new_members_become_joins_bots_excluded(world: World) -> None:
    joined = [CAL.to_api(), FakeUser(999, "Helper", is_bot=True).to_api()]
    message = parsed(world.new_message(world.chat(GROUP), CAL, new_chat_members=joined))
    at = datetime.fromtimestamp(T0, UTC)
    assert members_joined(message, KNOWN) == [MemberJoined(at, f"telegram:{GROUP}", "1003")]


def _change(chat: FakeChat, user: FakeUser, old: str, new: str) -> ChatMemberUpdated:
    payload = {"chat": chat.to_api(), "from": user.to_api(), "date": T0,
               "old_chat_member": Member(user, old).to_api(),
               "new_chat_member": Member(user, new).to_api()}  # fmt: skip
    change = ChatMemberUpdated.de_json(payload, None)
    assert change is not None
    return change


def test_chat_member_update_joins_and_admin_changes(world: World) -> None:
    chat = world.chat(GROUP)
    joined = member_joined(_change(chat, CAL, "left", "member"), KNOWN)
    assert joined == MemberJoined(datetime.fromtimestamp(T0, UTC), f"telegram:{GROUP}", "1003")
    assert member_joined(_change(chat, CAL, "member", "administrator"), KNOWN) is None
    assert admin_change(_change(chat, CAL, "member", "administrator")) == (GROUP, CAL.id, True)
    assert admin_change(_change(chat, CAL, "administrator", "member")) == (GROUP, CAL.id, False)
    assert admin_change(_change(chat, CAL, "left", "member")) is None
