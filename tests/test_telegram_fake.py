"""The fake Telegram server, proved with the real python-telegram-bot Application polling it."""

from __future__ import annotations

import datetime as dt

import pytest
from telegram import (
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_app import StartApp, build_application, running_application
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.telegram_world import FakeUser, UserCannotPostError

pytest_plugins = ("tests.fakes.telegram_fixtures",)
pytestmark = pytest.mark.asyncio

FORUM = -1001000000001
ANA = FakeUser(1001, "Ana", username="ana_md")
BEN = FakeUser(1002, "Ben", username="ben_phd")


def forum(server: FakeTelegramServer, **options: object) -> None:
    server.add_group(FORUM, "Clinicians", forum=True, members=[ANA, BEN], **options)


async def test_message_with_reply_and_topic_reaches_handler_and_reply_stays_in_topic(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server)
    topic = telegram_server.add_topic(FORUM, "Dosing debate", by=ANA)
    seen: list[tuple[int | None, bool | None, int | None, str | None]] = []

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        replied = message.reply_to_message
        seen.append(
            (
                message.message_thread_id,
                message.is_topic_message,
                replied.message_id if replied else None,
                replied.text if replied else None,
            )
        )
        await message.reply_text(f"noted, {message.from_user.first_name}")  # type: ignore[union-attr]

    app = build_application(telegram_server)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await run_telegram_app(app)
    first = telegram_server.user_sends(
        FORUM, ANA, "The trial used 5 mg.", thread_id=topic.message_thread_id
    )
    telegram_server.user_sends(
        FORUM, BEN, "@ana_md that arm was tiny", reply_to=first["message_id"]
    )

    replies = await telegram_server.wait_for(
        lambda: len(sent := telegram_server.sent_messages(FORUM)) == 2 and sent
    )

    thread = topic.message_thread_id
    assert seen == [
        (thread, True, thread, None),  # a topic message "replies" to the topic's creation message
        (thread, True, first["message_id"], "The trial used 5 mg."),
    ]
    assert [m["text"] for m in replies] == ["noted, Ana", "noted, Ben"]
    assert all(m["message_thread_id"] == thread and m["is_topic_message"] for m in replies)
    assert telegram_server.sent_messages(FORUM, thread_id=thread) == replies
    mention = telegram_server.message(FORUM, first["message_id"] + 1)["entities"][0]
    assert mention == {"type": "mention", "offset": 0, "length": 7}


async def test_inline_button_press_reaches_callback_handler_which_answers(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server)

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer(f"thanks, {query.from_user.first_name}")
        await query.edit_message_text(f"chosen: {query.data}")  # drops the keyboard

    app = build_application(telegram_server)
    app.add_handler(CallbackQueryHandler(on_press, pattern=r"^slow:"))
    bot = await run_telegram_app(app)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Slow down", callback_data="slow:1")]])
    sent = await bot.app.bot.send_message(FORUM, "Things are heated.", reply_markup=keyboard)

    query_id = telegram_server.press_button(sent.message_id, "slow:1", BEN)

    answers = await telegram_server.wait_for(telegram_server.callback_answers)
    assert answers == [{"callback_query_id": query_id, "text": "thanks, Ben"}]
    edited = telegram_server.message(FORUM, sent.message_id)
    await telegram_server.wait_for(lambda: "edit_date" in edited)
    assert edited["text"] == "chosen: slow:1"
    assert "reply_markup" not in edited
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.app.bot.answer_callback_query(query_id)


async def test_private_message_needs_the_user_to_have_started_the_bot(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server)
    payloads: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        payloads.append(list(context.args or []))
        await context.bot.send_message(update.effective_user.id, "Your appeal is open.")  # type: ignore[union-attr]

    app = build_application(telegram_server)
    app.add_handler(CommandHandler("start", start))
    bot = await run_telegram_app(app)

    with pytest.raises(Forbidden, match=r"(?i)bot can't initiate conversation with a user"):
        await bot.app.bot.send_message(ANA.id, "A gentle note.")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.app.bot.send_message(424242, "nobody")

    telegram_server.user_starts_bot(ANA, "appeal-42")
    await telegram_server.wait_for(lambda: telegram_server.sent_messages(ANA.id))
    assert payloads == [["appeal-42"]]
    later = await bot.app.bot.send_message(ANA.id, "A gentle note.")
    assert later.chat.type == "private"
    assert [m["text"] for m in telegram_server.sent_messages(ANA.id)] == [
        "Your appeal is open.",
        "A gentle note.",
    ]

    telegram_server.user_blocks_bot(ANA)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.app.bot.send_message(ANA.id, "again")


async def test_bot_creates_a_forum_topic_and_posts_into_it(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server)
    bot = (await run_telegram_app()).app.bot

    topic = await bot.create_forum_topic(FORUM, "Long-form: dosing")
    posted = await bot.send_message(
        FORUM, "Continue here, slowly.", message_thread_id=topic.message_thread_id
    )
    await bot.close_forum_topic(FORUM, topic.message_thread_id)

    assert posted.message_thread_id == topic.message_thread_id
    assert posted.is_topic_message
    [stored] = telegram_server.topics(FORUM)
    assert (stored.name, stored.is_closed) == ("Long-form: dosing", True)
    assert telegram_server.sent_messages(FORUM, thread_id=topic.message_thread_id)[0]["text"] == (
        "Continue here, slowly."
    )
    with pytest.raises(UserCannotPostError, match="cannot post in chat"):
        telegram_server.user_sends(FORUM, ANA, "let me in", thread_id=topic.message_thread_id)
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(FORUM, "lost", message_thread_id=999)


async def test_topic_and_restriction_rights_are_enforced(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server, bot_rights={"can_manage_topics": False, "can_restrict_members": False})
    bot = (await run_telegram_app()).app.bot

    with pytest.raises(BadRequest, match=r"(?i)not enough rights to create a topic"):
        await bot.create_forum_topic(FORUM, "Long-form")
    with pytest.raises(
        BadRequest, match=r"(?i)not enough rights to restrict/unrestrict chat member"
    ):
        await bot.restrict_chat_member(FORUM, ANA.id, ChatPermissions(can_send_messages=False))
    assert telegram_server.restrictions(FORUM) == []


async def test_restriction_with_until_date_is_recorded_and_enforced(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server)
    bot = (await run_telegram_app()).app.bot
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=2)

    done = await bot.restrict_chat_member(
        FORUM, BEN.id, ChatPermissions(can_send_messages=False), until_date=until
    )

    assert done is True
    [restriction] = telegram_server.restrictions(FORUM, BEN.id)
    assert restriction.until_date == int(until.timestamp())
    assert not restriction.forever
    assert restriction.permissions["can_send_messages"] is False
    member = await bot.get_chat_member(FORUM, BEN.id)
    assert member.status == "restricted"
    assert member.until_date == until
    with pytest.raises(UserCannotPostError, match="cannot post in chat"):
        telegram_server.user_sends(FORUM, BEN, "one more thing")
    telegram_server.user_sends(FORUM, ANA, "others still can")


async def test_forced_429_surfaces_as_retry_after(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server)
    bot = (await run_telegram_app()).app.bot
    telegram_server.fail_next("sendMessage", 429, retry_after=7)

    with pytest.raises(RetryAfter, match=r"Flood control exceeded\. Retry in 0:00:07") as raised:
        await bot.send_message(FORUM, "hello")

    assert raised.value.retry_after == dt.timedelta(seconds=7)
    await bot.send_message(FORUM, "hello")  # only the next call was forced
    statuses = [c.status for c in telegram_server.calls("sendMessage")]
    assert statuses == [429, 200]


async def test_forced_errors_and_delays_map_to_ptb_exceptions(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server)
    bot = (await run_telegram_app()).app.bot
    telegram_server.fail_next("deleteMessage", 400, "Bad Request: message to delete not found")
    telegram_server.delay_next("sendMessage", 5)

    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(FORUM, 1)
    with pytest.raises(TimedOut, match="Timed out"):
        await bot.send_message(FORUM, "slow", read_timeout=0.1)
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(FORUM, "Calm down.", parse_mode="MarkdownV2")
    with pytest.raises(EndPointNotFound, match=r"Endpoint .setSlowModeDelay. not found"):
        await bot.do_api_request("setSlowModeDelay", api_kwargs={"chat_id": FORUM})


async def test_wrong_token_raises_invalid_token(telegram_server: FakeTelegramServer) -> None:
    app = build_application(telegram_server, token="999:wrong")

    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with running_application(app):
            pass

    assert telegram_server.calls("getMe")[0].status == 401


async def test_join_reaches_chat_member_handler_and_handler_errors_are_reported(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server)
    joined: list[str] = []

    async def on_join(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.chat_member is not None
        joined.append(update.chat_member.new_chat_member.user.first_name)
        raise RuntimeError("a broken handler")

    app = build_application(telegram_server)
    app.add_handler(ChatMemberHandler(on_join, ChatMemberHandler.CHAT_MEMBER))
    bot = await run_telegram_app(app)
    newcomer = FakeUser(1003, "Cleo")

    telegram_server.user_joins(FORUM, newcomer)

    await telegram_server.wait_for(lambda: bot.errors)
    assert joined == ["Cleo"]
    with pytest.raises(AssertionError, match="a broken handler"):
        bot.assert_no_errors()  # what run_telegram_app checks at teardown
    [error] = bot.take_errors()
    assert isinstance(error, RuntimeError)


async def test_chat_admin_command_and_copy_methods_answer_like_telegram(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server, owner=FakeUser(1000, "Dana"))
    bot = (await run_telegram_app()).app.bot
    original = telegram_server.user_sends(FORUM, ANA, "A *careful* point, see https://x.org")

    await bot.set_my_commands([("appeal", "Ask a human moderator to look again")])
    info = await bot.get_chat(FORUM)
    admins = await bot.get_chat_administrators(FORUM)
    await bot.set_chat_permissions(FORUM, ChatPermissions(can_send_messages=True))
    topic = await bot.create_forum_topic(FORUM, "Long-form")
    await bot.edit_forum_topic(FORUM, topic.message_thread_id, name="Long-form: dosing")
    copies = await bot.copy_messages(
        FORUM, FORUM, [original["message_id"]], message_thread_id=topic.message_thread_id
    )
    telegram_server.user_starts_bot(ANA)
    forwarded = await bot.forward_message(ANA.id, FORUM, original["message_id"])

    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("appeal", "Ask a human moderator to look again")
    ]
    assert info.permissions is not None
    assert (info.is_forum, info.title, info.permissions.can_send_messages) == (
        True,
        "Clinicians",
        True,
    )
    assert {(a.user.first_name, a.status) for a in admins} == {
        ("Dana", "creator"),
        ("Longform", "administrator"),
    }
    assert telegram_server.world.chats[FORUM].permissions["can_send_polls"] is False
    [copy] = telegram_server.sent_messages(FORUM, thread_id=topic.message_thread_id)
    assert copy["message_id"] == copies[0].message_id
    assert copy["text"] == original["text"]
    assert "forward_origin" not in copy
    assert telegram_server.topics(FORUM)[0].name == "Long-form: dosing"
    assert forwarded.forward_origin.sender_user.id == ANA.id
    with pytest.raises(BadRequest, match=r"(?i)topic_not_modified"):
        await bot.reopen_forum_topic(FORUM, topic.message_thread_id)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(
            FORUM,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("b", callback_data="d" * 65)]]
            ),
        )


async def test_edits_leaves_and_privacy_mode_reach_the_bot_as_telegram_sends_them(
    telegram_server: FakeTelegramServer, run_telegram_app: StartApp
) -> None:
    forum(telegram_server, bot_admin=False)
    telegram_server.set_privacy_mode(True)
    seen: list[str] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        kind = "edit" if update.edited_message else "left" if message.left_chat_member else "new"
        seen.append(f"{kind}: {message.text or ''}")

    app = build_application(telegram_server)
    app.add_handler(MessageHandler(filters.ALL, record))
    await run_telegram_app(app)

    telegram_server.user_sends(FORUM, ANA, "unseen chatter")  # privacy: not for the bot
    mention = telegram_server.user_sends(FORUM, BEN, "@longform_test_bot is this ok?")
    telegram_server.user_edits(FORUM, mention["message_id"], "@longform_test_bot is this fine?")
    telegram_server.user_leaves(FORUM, BEN)

    await telegram_server.wait_for(lambda: len(seen) == 3)
    assert seen == [
        "new: @longform_test_bot is this ok?",
        "edit: @longform_test_bot is this fine?",
        "left: ",
    ]
    assert telegram_server.member(FORUM, BEN.id).status == "left"
    with pytest.raises(UserCannotPostError, match="cannot post in chat"):
        telegram_server.user_sends(FORUM, BEN, "back?")
