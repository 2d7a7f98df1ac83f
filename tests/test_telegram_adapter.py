"""The Telegram adapter end to end: the real service (runtime, SQLite, outbox, jobs) and the real
python-telegram-bot Application, polling or behind a webhook, against the fake Bot API."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest

from adapters.telegram.options import Updates
from bot.core.events import LongformOpened
from bot.runtime import jobs
from bot.runtime.app import StartupError
from bot.storage.schema import Outcome
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.telegram_world import FakeUser
from tests.telegram_support import (
    AMARA,
    FORUM,
    MOD,
    MODS,
    PLAIN,
    USERS,
    Served,
    community,
    config,
    options,
    pile_on,
    serving,
    setup_forum,
)
from tests.waiting import eventually

pytest_plugins = ("tests.fakes.telegram_fixtures",)


def buttons(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button.get("callback_data") or button.get("url") for row in rows for button in row]


async def answered(server: FakeTelegramServer, count: int) -> dict[str, Any]:
    """The `count`-th answer to a button press, once it has come."""
    answers = await server.wait_for(lambda: len(a := server.callback_answers()) >= count and a)
    return answers[count - 1]


def alerts(server: FakeTelegramServer) -> list[dict[str, Any]]:
    return [m for m in server.sent_messages(MODS) if m.get("reply_markup")]


async def lift_slow_mode(served: Served) -> None:
    """What the scheduler does when the slow mode's time is up (called at once, no waiting)."""
    [slow] = [e for e in served.audit("set_slow_mode") if e.outcome == "sent"]
    await jobs.lift_slow_mode(slow.community, slow.channel, slow.thread, slow.message_id,
                              slow.signal, slow.at.isoformat())  # fmt: skip
    await served.settle()


@pytest.mark.parametrize("updates", ["polling", "webhook"])
async def test_pile_on_gets_notice_topic_copies_pauses_alert_and_the_lift(
    telegram_server: FakeTelegramServer, tmp_path: Any, updates: Updates
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    async with serving(server, config(tmp_path, server), options(updates)) as served:
        ids = pile_on(server, FORUM, thread)
        await served.settle()

        notices = [m for m in server.sent_messages(FORUM, thread) if m.get("reply_to_message")
                   and any(d.startswith("y:") for d in buttons(m) if d)]  # fmt: skip
        assert notices, "no notice with buttons was posted in the topic"
        assert {d[:2] for d in buttons(notices[0])} >= {"y:", "n:"}
        [made] = [t for t in server.topics(FORUM) if t.created_by_bot]
        assert made.name == "Long form: Antibiotics for viral coughs (Clinicians)"
        [copied] = server.calls("copyMessages")
        assert copied.params["message_thread_id"] == made.message_thread_id
        assert set(copied.params["message_ids"]) <= set(ids.values())
        assert any(
            f"/{made.message_thread_id}" in m["text"] for m in server.sent_messages(FORUM, thread)
        )
        paused = {r.user_id for r in server.restrictions(FORUM)}
        assert paused
        assert MOD.id not in paused
        assert any(m["text"].startswith("Slow mode emulated") for m in server.sent_messages(MODS))
        alert = alerts(server)[0]
        key = buttons(alert)[0][2:]
        assert buttons(alert) == [f"{action}:{key}" for action in "awosu"]
        assert "\nWhy: " in alert["text"]
        assert f"https://t.me/c/1000000001/{thread}/" in alert["text"]
        assert any("Slow mode: emulated" in m["text"] for m in alerts(server))

        await lift_slow_mode(served)
        assert all(server.member(FORUM, user).status == "member" for user in paused)
        assert any(m["text"].startswith("Slow mode lifted") for m in server.sent_messages(MODS))
        member = next(u for u in USERS.values() if u.id in paused)
        server.user_sends(FORUM, member, "Back to the evidence, then.", thread_id=thread)
        # A participant moves to the long-form topic and writes there (issue 17's "moved").
        moved = server.user_sends(FORUM, member, "My claim, with sources.",
                                  thread_id=made.message_thread_id)  # fmt: skip
        journal = served.service.runtime.store.journal

        def seen() -> bool:
            wanted = str(moved["message_id"])
            return any(getattr(j.entry, "id", "").endswith(wanted) for j in journal.since(0))

        await eventually(seen, within=10, what="the message in the long-form topic judged")
        await served.settle()
        [opened] = [j.entry for j in journal.since(0) if isinstance(j.entry, LongformOpened)]
        assert opened.venue.thread == str(made.message_thread_id)
        runtime = served.service.runtime
        await runtime.tick(runtime.clock() + timedelta(hours=3))
        [space] = [o for o in runtime.store.outcomes.read() if o.action == "open_longform_space"]
        assert space.measures["moved"] == 1.0
    if updates == "webhook":
        assert server.calls("setWebhook")[0].params["secret_token"] == "s3cret-token"
        assert server.webhook.deliveries
        assert server.calls("getUpdates") == []


async def test_moderator_buttons_check_that_the_clicker_is_an_admin(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    async with serving(server, config(tmp_path, server)) as served:
        pile_on(server, FORUM, thread)
        await served.settle()
        alert = alerts(server)[0]
        key = buttons(alert)[0][2:]

        server.press_button(alert["message_id"], f"w:{key}", USERS["dr_sato"], chat_id=MODS)
        await server.wait_for(lambda: server.callback_answers())
        refused = server.callback_answers()[-1]
        assert refused["show_alert"] is True
        assert "only admins" in refused["text"].lower()
        assert served.service.runtime.store.feedback.feedback_counts() == {}

        server.press_button(alert["message_id"], f"w:{key}", MOD, chat_id=MODS)
        await server.wait_for(lambda: len(server.callback_answers()) == 2)
        assert server.callback_answers()[-1]["text"].startswith("Recorded: Longform got this wrong")
        assert (
            sum(w for _, w in served.service.runtime.store.feedback.feedback_counts().values()) == 1
        )

        server.press_button(alert["message_id"], f"a:{key}", MOD, chat_id=MODS)
        await server.wait_for(
            lambda: "Acknowledged by Mo" in server.message(MODS, alert["message_id"])["text"]
        )


async def test_members_why_button_answers_with_an_alert_to_the_one_who_asked(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    async with serving(server, config(tmp_path, server)) as served:
        pile_on(server, FORUM, thread)
        await served.settle()
        notice = next(
            m
            for m in server.sent_messages(FORUM, thread)
            if any(d.startswith("y:") for d in buttons(m))
        )
        why = next(d for d in buttons(notice) if d.startswith("y:"))
        server.press_button(notice["message_id"], why, USERS["dr_sato"])
        answer = await answered(server, 1)
        assert answer["show_alert"] is True
        assert "Longform never removes anything" in answer["text"]
        assert len(answer["text"]) <= 200

        unhelpful = next(d for d in buttons(notice) if d.startswith("n:"))
        server.press_button(notice["message_id"], unhelpful, USERS["dr_sato"])
        await server.wait_for(lambda: len(server.callback_answers()) == 2)
        counts = served.service.runtime.store.feedback.feedback_counts()
        assert sum(wrong for _, wrong in counts.values()) == 1

        asked = server.user_sends(FORUM, MOD, "/why", reply_to=notice["message_id"])  # not paused
        reply = await server.wait_for(
            lambda: next((m for m in server.sent_messages(FORUM, thread)
                          if m.get("reply_to_message", {}).get("message_id") == asked["message_id"]), None)
        )  # fmt: skip
        assert reply["text"].endswith("Longform never removes anything; moderators decide.")


async def test_prompt_for_a_member_without_a_private_chat_is_delivered_through_the_deep_link(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    async with serving(server, config(tmp_path, server)) as served:
        pile_on(server, FORUM, thread)
        await served.settle()
        assert any(c.status == 403 for c in server.calls("sendMessage"))
        links = [
            d for m in server.sent_messages(FORUM, thread) for d in buttons(m) if "?start=" in d
        ]
        assert links, "no deep link was offered"
        payload = links[0].split("?start=")[1]
        prompt = next(e for e in served.audit("prompt_member") if e.decision_key == payload[1:])
        member = next(u for u in USERS.values() if str(u.id) == prompt.recipient)

        server.user_starts_bot(member, payload)
        [private] = await server.wait_for(lambda: server.sent_messages(member.id))
        assert private["text"].startswith(f"Hi {member.first_name}")
        assert "/optout" in private["text"]

        other = USERS["dr_sato"] if member is not USERS["dr_sato"] else USERS["dr_okafor"]
        server.user_starts_bot(other, payload)
        [refused] = await server.wait_for(lambda: server.sent_messages(other.id))
        assert refused["text"].startswith("This note was meant for another member")


async def test_rate_limit_is_retried_after_retry_after_without_a_second_topic(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    server.fail_next("copyMessages", 429, retry_after=1)
    async with serving(server, config(tmp_path, server)) as served:
        pile_on(server, FORUM, thread)
        await served.settle()
        copies = await server.wait_for(
            lambda: [c for c in server.calls("copyMessages") if c.status == 200], 5
        )
        assert [c.status for c in server.calls("copyMessages")] == [429, 200]
        assert len(server.calls("createForumTopic")) == 1
        assert copies


async def test_chat_that_is_not_a_forum_gets_a_moderators_note_instead_of_a_topic(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    server.add_group(PLAIN, "Plain clinicians", owner=MOD, members=list(USERS.values()))
    server.add_group(MODS, "Moderators", owner=MOD)
    async with serving(server, config(tmp_path, server, community(PLAIN))) as served:
        [at_start] = server.sent_messages(MODS)  # said at start-up already
        assert "Plain clinicians is not a forum" in at_start["text"]
        pile_on(server, PLAIN, None)
        await served.settle()
        assert server.calls("createForumTopic") == []
        outcomes = [e.outcome for e in served.audit("open_longform_space")]
        assert outcomes == ["decided", "downgraded"]
        notes = [m["text"] for m in server.sent_messages(MODS)[1:]]
        assert sum("Turn on Topics" in note for note in notes) == 1
        assert server.sent_messages(PLAIN), "notices still go to the plain group"


async def test_start_up_says_how_to_let_the_bot_read_every_message(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    server.set_privacy_mode(True)
    server.add_group(FORUM, "Clinicians", forum=True, owner=MOD, bot_admin=False)
    server.add_group(MODS, "Moderators", owner=MOD)
    async with serving(server, config(tmp_path, server)):
        [note] = server.sent_messages(MODS)  # every problem in one note
        assert "privacy mode is on" in note["text"]
        assert "/setprivacy" in note["text"]
        assert "make @longform_test_bot an admin of Clinicians" in note["text"]


async def test_commands_are_registered_and_answer_in_the_group(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    async with serving(server, config(tmp_path, server)) as served:
        [registered] = server.calls("setMyCommands")
        assert [c["command"] for c in registered.params["commands"]] == [
            "status",
            "mode",
            "policy",
            "why",
            "optout",
            "dashboard",
        ]
        server.user_sends(FORUM, USERS["dr_sato"], "/status", thread_id=thread)
        server.user_sends(FORUM, USERS["dr_sato"], "/mode shadow", thread_id=thread)
        server.user_sends(FORUM, MOD, "/mode shadow", thread_id=thread)
        server.user_sends(FORUM, AMARA, "/optout", thread_id=thread)
        server.user_sends(FORUM, AMARA, "/policy", thread_id=thread)
        server.user_sends(FORUM, AMARA, "/why", thread_id=thread)
        replies = await server.wait_for(
            lambda: len(r := server.sent_messages(FORUM, thread)) == 6 and r
        )
        texts = [m["text"] for m in replies]
        assert texts[0].startswith("Longform is in live mode with the 'strict' policy")
        assert texts[1] == "Only admins of the group can change Longform's mode."
        assert texts[2] == "Longform is now in shadow mode here."
        assert texts[3].startswith("Longform will send you no more private notes in this group")
        assert texts[4].startswith("Policy 'strict' (shadow mode)")
        assert texts[5] == "Reply to a message with /why to see why Longform acted on it."
        prefs = served.service.runtime.store.prefs
        assert prefs.is_opted_out("telegram", str(FORUM), str(AMARA.id))

        server.user_sends(USERS["dr_sato"].id, USERS["dr_sato"], "/optout")
        await server.wait_for(lambda: server.sent_messages(USERS["dr_sato"].id))
        assert prefs.is_opted_out("telegram", "", str(USERS["dr_sato"].id))


async def test_a_bad_token_stops_start_up_with_the_fix(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    setup_forum(telegram_server)
    with pytest.raises(StartupError, match=r"(?i)rejected the bot token"):
        async with serving(telegram_server, config(tmp_path, telegram_server), token="1:wrong"):
            pass


async def test_a_webhook_port_in_use_stops_start_up_with_the_fix(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    setup_forum(telegram_server)
    opts = options("webhook")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", opts.webhook_port))
        taken.listen()
        with pytest.raises(StartupError, match=r"telegram\.webhook_port: cannot listen"):
            async with serving(telegram_server, config(tmp_path, telegram_server), opts):
                pass


async def test_new_members_and_edits_reach_the_runtime(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    setup_forum(server)
    newcomer = FakeUser(3001, "Nia", username="nia_rn")
    async with serving(server, config(tmp_path, server)) as served:
        server.user_joins(FORUM, newcomer)
        sent = server.user_sends(FORUM, newcomer, "Hello all, first post.")
        server.user_edits(FORUM, sent["message_id"], "Hello all, my first post here.")
        await served.settle()
        registry = served.service.runtime.metrics.registry

        def seen(platform: str, kind: str) -> float | None:
            labels = {"platform": platform, "kind": kind}
            return registry.get_sample_value("longform_events_total", labels)

        assert seen("telegram", "MemberJoined") == 1  # the join message and chat_member: once
        assert seen("telegram", "MessagePosted") == 1
        assert seen("any", "MessageEdited") == 1


async def test_moderators_slow_down_open_long_form_and_undo_from_an_alert(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    vasquez = USERS["dr_vasquez"]
    async with serving(server, config(tmp_path, server)) as served:
        claim = server.user_sends(
            FORUM, AMARA, "No scripts for clearly viral URTI.", thread_id=thread
        )
        server.user_sends(FORUM, vasquez, "@dr_amara did you even finish residency? Nobody "
                          "competent calls anything 'clearly viral' without a swab.",
                          reply_to=claim["message_id"])  # fmt: skip
        await served.settle()
        alert = alerts(server)[0]
        key = buttons(alert)[0][2:]
        assert server.restrictions(FORUM) == []

        def press(action: str) -> None:
            server.press_button(alert["message_id"], f"{action}:{key}", MOD, chat_id=MODS)

        press("s")
        await server.wait_for(lambda: server.callback_answers())
        await served.settle()
        assert {r.user_id for r in server.restrictions(FORUM)} == {AMARA.id, vasquez.id}

        press("o")
        await server.wait_for(lambda: len(server.callback_answers()) == 2)
        await served.settle()
        assert len([t for t in server.topics(FORUM) if t.created_by_bot]) == 1

        press("u")
        answer = await answered(server, 3)
        assert answer["text"].startswith("Undone: 2 pause(s) lifted")
        assert server.member(FORUM, vasquez.id).status == "member"
        assert [e.outcome for e in served.audit("alert_moderators")].count(Outcome.UNDONE) == 1


async def test_an_admins_slow_down_is_keyed_by_the_alert_as_on_discord(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    # Issue 15's drift: Telegram keyed it by the message the engine acted on (a key the outbox
    # may already hold for the engine's own slow mode, so the admin's request would be dropped).
    server = telegram_server
    thread = setup_forum(server)
    vasquez = USERS["dr_vasquez"]
    async with serving(server, config(tmp_path, server)) as served:
        claim = server.user_sends(
            FORUM, AMARA, "No scripts for clearly viral URTI.", thread_id=thread
        )
        server.user_sends(FORUM, vasquez, "@dr_amara did you even finish residency? Nobody "
                          "competent calls anything 'clearly viral' without a swab.",
                          reply_to=claim["message_id"])  # fmt: skip
        await served.settle()
        alert = alerts(server)[0]
        key = buttons(alert)[0][2:]
        server.press_button(alert["message_id"], f"s:{key}", MOD, chat_id=MODS)
        await server.wait_for(lambda: server.callback_answers())
        await served.settle()
        (slowed,) = served.audit("set_slow_mode")[-1:]
        assert slowed.message_id == f"{MODS}:{alert['message_id']}"
        assert slowed.outcome in (Outcome.SENT, Outcome.DOWNGRADED)


async def test_a_group_watching_some_topics_watches_its_long_form_topics_too_after_a_restart(
    telegram_server: FakeTelegramServer, tmp_path: Any
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    cfg = config(tmp_path, server, community(FORUM, channels=[str(thread)]))  # type: ignore[arg-type]

    def judged(sent: dict[str, Any], served: Served) -> bool:
        wanted = f":{sent['message_id']}"
        entries = served.service.runtime.store.journal.since(0)
        return any(getattr(j.entry, "id", "").endswith(wanted) for j in entries)

    async with serving(server, cfg) as served:
        pile_on(server, FORUM, thread)
        await served.settle()
        [made] = [t for t in server.topics(FORUM) if t.created_by_bot]
        member = MOD  # the slow mode pauses the conversation's members; an admin can still post
        outside = server.add_topic(FORUM, "Holiday rota", by=AMARA).message_thread_id
        ignored = server.user_sends(FORUM, member, "Who covers the 24th?", thread_id=outside)
        moved = server.user_sends(FORUM, member, "My claim, with sources.",
                                  thread_id=made.message_thread_id)  # fmt: skip
        await eventually(lambda: judged(moved, served), within=10, what="the long-form topic seen")
        assert not judged(ignored, served), "a topic the config does not watch was judged"
    async with serving(server, cfg) as again:
        later = server.user_sends(FORUM, member, "And a question for the other side.",
                                  thread_id=made.message_thread_id)  # fmt: skip
        await eventually(lambda: judged(later, again), within=10,
                         what="the long-form topic still watched after a restart")  # fmt: skip
