"""Core decisions -> the pipeline -> the Telegram gateway's Bot API calls, on their own: a real PTB
Bot against the fake server, no Application and no runtime (the service is an in-memory stand-in)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest_asyncio
from telegram import Bot

from adapters.telegram.community import Community
from adapters.telegram.gateway import TelegramGateway
from adapters.telegram.roster import Roster
from adapters.telegram.service import Emulation, MemoryService, emulation
from adapters.telegram.slowmode import SlowModes, paused_permissions
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
)
from bot.core.events import ConversationKey
from bot.core.settings import Settings
from bot.runtime.gateway_adapter import GatewayAdapter
from bot.runtime.pipeline import Pipeline
from bot.runtime.platform import ActionResult, Status
from bot.storage.codec import decision_key
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.telegram_world import FakeUser

pytest_plugins = ("tests.fakes.telegram_fixtures",)

FORUM, PLAIN, MODS = -1001000000001, -1001000000002, -1001000000009
MOD = FakeUser(900, "Mo", username="mo_admin")
ANA, BEN, CAL = FakeUser(1001, "Ana"), FakeUser(1002, "Ben"), FakeUser(1003, "Cal")
KEY = "0123456789abcdef0123456789abcdef"
KEY2 = "fedcba9876543210fedcba9876543210"


class _NoListener:
    async def start(self, sink: Any, control: Any) -> None:
        """Nothing to receive: these tests hand decisions in directly."""

    async def stop(self) -> None:
        """Nothing to stop."""


class TelegramExecutor(GatewayAdapter):
    """The one pipeline over the Telegram gateway, started without a runtime; the gateway's own
    helpers (roster, slow modes, undo) are reached through it."""

    def __init__(self, gateway: TelegramGateway) -> None:
        super().__init__(gateway, _NoListener())
        self.telegram = gateway
        self.pipeline = Pipeline(gateway, gateway.steps)
        self.roster, self.slow, self.bot = gateway.roster, gateway.slow, gateway.bot
        self.undo = gateway.undo

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        # A lift finds its slow mode by the outbox key, which is the decision's own key: these
        # tests' made-up keys stand in for it everywhere else.
        if isinstance(decision, SetSlowMode):
            key = decision_key(decision, "telegram")
        return await super().execute(decision, key)

    @property
    def default_emulation(self) -> Emulation:
        return self.telegram.default_emulation

    @default_emulation.setter
    def default_emulation(self, value: Emulation) -> None:
        self.telegram.default_emulation = value


@dataclass
class Setup:
    server: FakeTelegramServer
    executor: TelegramExecutor
    service: MemoryService
    thread: int
    claim: dict[str, Any]

    @property
    def conversation(self) -> ConversationKey:
        return ConversationKey(f"telegram:{FORUM}", str(FORUM), str(self.thread))

    def ref(self, message: dict[str, Any]) -> str:
        return f"{message['chat']['id']}:{message['message_id']}"


def base(s: Setup, **fields: Any) -> dict[str, Any]:
    return dict(conversation=s.conversation, message_id=s.ref(s.claim),
                at=datetime.now(UTC), signal=Signal.PILE_ON,
                reason="3 people replied to 1001 within 2 minutes.",
                evidence=Evidence((s.ref(s.claim),)), **fields)  # fmt: skip


@pytest_asyncio.fixture
async def setup(telegram_server: FakeTelegramServer) -> AsyncIterator[Setup]:
    server = telegram_server
    server.add_group(FORUM, "Clinicians", forum=True, owner=MOD, members=[ANA, BEN, CAL])
    server.add_group(PLAIN, "Plain group", owner=MOD, members=[ANA, BEN])
    server.add_group(MODS, "Mods", owner=MOD)
    thread = server.add_topic(FORUM, "Dosing", by=ANA).message_thread_id
    claim = server.user_sends(FORUM, ANA, "No antibiotics for viral URTI.", thread_id=thread)
    bot = Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url)
    await bot.initialize()
    roster = Roster(names={ANA.id: "Ana", BEN.id: "Ben"}, titles={FORUM: "Clinicians"})
    roster.topics[(FORUM, thread)] = "Dosing"
    roster.set_admins(FORUM, [MOD.id])
    known = {chat: Community(chat, moderators=MODS) for chat in (FORUM, PLAIN)}
    service = MemoryService(Settings(), {})
    try:
        gateway = TelegramGateway(bot, known, roster, service)
        yield Setup(server, TelegramExecutor(gateway), service, thread, claim)
    finally:
        await bot.shutdown()


def markup_data(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button.get("callback_data") or button.get("url") for row in rows for button in row]


async def test_notice_replies_in_the_topic_with_buttons_and_names(setup: Setup) -> None:
    notice = PostNotice(
        **base(setup), text="Replies are arriving for 1001 at once.", offers_longform=True
    )
    result = await setup.executor.execute(notice, KEY)
    assert result.status is Status.SENT
    [sent] = setup.server.sent_messages(FORUM, setup.thread)
    assert sent["text"] == "Replies are arriving for Ana at once."
    assert sent["reply_to_message"]["message_id"] == setup.claim["message_id"]
    assert markup_data(sent) == [f"l:{KEY}", f"y:{KEY}", f"n:{KEY}"]
    assert result.reference == f"{FORUM}:{sent['message_id']}"


async def test_same_key_is_done_once(setup: Setup) -> None:
    notice = PostNotice(**base(setup), text="Slow down, please.")
    await setup.executor.execute(notice, KEY)
    again = await setup.executor.execute(notice, KEY)
    assert again.status is Status.SENT
    assert len(setup.server.sent_messages(FORUM)) == 1


async def test_prompt_goes_privately_to_a_member_who_started_the_bot(setup: Setup) -> None:
    setup.server.user_starts_bot(BEN)
    prompt = PromptMember(
        **base(setup), member="1002", kind=PromptKind.LATE_JOINER, text="Hi 1002."
    )
    result = await setup.executor.execute(prompt, KEY)
    assert result.status is Status.SENT
    [private] = setup.server.sent_messages(BEN.id)
    assert private["text"].startswith("Hi Ben.")
    assert "/optout" in private["text"]
    assert setup.server.sent_messages(FORUM) == []


async def test_prompt_to_a_member_who_never_started_the_bot_becomes_a_deep_link(
    setup: Setup,
) -> None:
    prompt = PromptMember(
        **base(setup), member="1001", kind=PromptKind.PILE_ON_TARGET, text="Hi 1001."
    )
    result = await setup.executor.execute(prompt, KEY)
    assert result.status is Status.DOWNGRADED
    [forbidden] = [c for c in setup.server.calls("sendMessage") if c.status == 403]
    assert "can't initiate conversation" in (forbidden.description or "")
    [notice] = setup.server.sent_messages(FORUM, setup.thread)
    assert "Ana" not in notice["text"]
    assert "1001" not in notice["text"]
    assert markup_data(notice) == [f"https://t.me/longform_test_bot?start=p{KEY}"]


async def test_slow_mode_pauses_participants_and_the_lift_releases_them(setup: Setup) -> None:
    executor, server, now = setup.executor, setup.server, datetime.now(UTC)
    for user in (ANA, BEN, MOD):
        executor.roster.spoke(setup.conversation, user.id, now)
    slow = SetSlowMode(**base(setup), seconds=10, until=now + timedelta(minutes=20))
    result = await executor.execute(slow, KEY)
    assert result.status is Status.SENT
    paused = server.restrictions(FORUM)
    assert {r.user_id for r in paused} == {ANA.id, BEN.id}  # never the admin
    assert all(not r.permissions["can_send_messages"] and not r.forever for r in paused)
    assert all(r.until_date - r.at >= 30 for r in paused)  # never less than 30 s
    assert server.member(FORUM, ANA.id).status == "restricted"
    note = server.sent_messages(MODS)[-1]["text"]
    assert note.startswith("Slow mode emulated in Dosing (Clinicians)")
    assert "whole group" in note

    await executor.slow.after_message(setup.conversation, CAL.id)  # a newcomer posts: paused too
    assert server.member(FORUM, CAL.id).status == "restricted"

    lift = LiftSlowMode(**base(setup))
    lifted = await executor.execute(lift, KEY2)
    assert (lifted.status, lifted.detail) == (Status.SENT, "lifted 3 pause(s)")
    assert all(server.member(FORUM, u.id).status == "member" for u in (ANA, BEN, CAL))
    assert server.sent_messages(MODS)[-1]["text"].startswith("Slow mode lifted in Dosing")


async def test_lift_leaves_alone_a_restriction_someone_else_set_since(setup: Setup) -> None:
    executor, now = setup.executor, datetime.now(UTC)
    executor.roster.spoke(setup.conversation, ANA.id, now)
    await executor.execute(
        SetSlowMode(**base(setup), seconds=60, until=now + timedelta(hours=1)), KEY
    )
    by_moderator = int(now.timestamp()) + 86_400
    await executor.bot.restrict_chat_member(
        FORUM, ANA.id, paused_permissions(), until_date=by_moderator
    )
    result = await executor.execute(LiftSlowMode(**base(setup)), KEY2)
    assert result.detail == "lifted 0 pause(s)"
    assert setup.server.member(FORUM, ANA.id).until_date == by_moderator


async def test_slow_mode_survives_a_restart_through_the_service(setup: Setup) -> None:
    executor, now = setup.executor, datetime.now(UTC)
    executor.roster.spoke(setup.conversation, BEN.id, now)
    slow = SetSlowMode(**base(setup), seconds=60, until=now + timedelta(hours=1))
    await executor.execute(slow, KEY)
    restarted = SlowModes(executor.bot, executor.roster, setup.service)
    await restarted.restore()
    # spells are named by their slow mode's outbox key
    ended = await restarted.end(decision_key(slow, "telegram"))
    assert ended is not None
    assert ended[1] == 1
    assert setup.server.member(FORUM, BEN.id).status == "member"


async def test_slow_mode_without_the_right_to_restrict_asks_the_admins(setup: Setup) -> None:
    bot = setup.server.world.bot_member(setup.server.world.chat(FORUM))
    bot.rights["can_restrict_members"] = False
    now = datetime.now(UTC)
    result = await setup.executor.execute(SetSlowMode(**base(setup), seconds=60, until=now), KEY)
    assert result.status is Status.DOWNGRADED
    assert setup.server.restrictions(FORUM) == []
    asked = setup.server.sent_messages(MODS)[-1]["text"]
    assert asked.startswith("Please set slow mode in Dosing (Clinicians): one message every 60 s")
    lift = await setup.executor.execute(LiftSlowMode(**base(setup)), KEY2)
    assert lift.status is Status.SENT
    assert "can be turned off now" in setup.server.sent_messages(MODS)[-1]["text"]


async def test_policy_may_choose_to_ask_the_admins(setup: Setup) -> None:
    setup.executor.default_emulation = "ask_admins"
    now = datetime.now(UTC)
    result = await setup.executor.execute(SetSlowMode(**base(setup), seconds=30, until=now), KEY)
    assert (result.status, setup.server.restrictions(FORUM)) == (Status.DOWNGRADED, [])


def longform(s: Setup, keys: tuple[str, ...]) -> OpenLongformSpace:
    return OpenLongformSpace(**base(s), title=f"Long form: {s.thread}", template=("My claim", "My evidence"),
                             participants=("1001",), key_messages=keys, text="More room here.")  # fmt: skip


async def test_longform_opens_a_topic_with_template_copies_and_links(setup: Setup) -> None:
    server = setup.server
    reply = server.user_sends(FORUM, BEN, "Wrong.", reply_to=setup.claim["message_id"])
    result = await setup.executor.execute(
        longform(setup, (setup.ref(reply), setup.ref(setup.claim))), KEY
    )
    assert result.status is Status.SENT
    [made] = [t for t in server.topics(FORUM) if t.created_by_bot]
    assert made.name == "Long form: Dosing (Clinicians)"
    assert result.reference == f"{FORUM}:{made.message_thread_id}"
    [copy] = server.calls("copyMessages")
    assert copy.params["message_ids"] == [setup.claim["message_id"], reply["message_id"]]
    inside = [m["text"] for m in server.sent_messages(FORUM, made.message_thread_id)]
    assert inside[0].startswith("More room here.\n• My claim:\n• My evidence:\nInvited: Ana")
    assert f"https://t.me/c/1000000001/{setup.thread}/{setup.claim['message_id']}" in inside[0]
    assert inside[1:] == ["No antibiotics for viral URTI.", "Wrong."]
    [link] = server.sent_messages(FORUM, setup.thread)
    assert f"https://t.me/c/1000000001/{made.message_thread_id}" in link["text"]


async def test_longform_retried_after_a_rate_limit_does_not_open_a_second_topic(
    setup: Setup,
) -> None:
    setup.server.fail_next("copyMessages", 429, retry_after=3)
    decision = longform(setup, (setup.ref(setup.claim),))
    first = await setup.executor.execute(decision, KEY)
    assert (first.status, first.retry_after) == (Status.FAILED, 3.0)
    second = await setup.executor.execute(decision, KEY)
    assert second.status is Status.SENT
    assert len(setup.server.calls("createForumTopic")) == 1


async def test_longform_in_a_group_that_is_not_a_forum_tells_the_moderators(setup: Setup) -> None:
    plain = ConversationKey(f"telegram:{PLAIN}", str(PLAIN))
    decision = OpenLongformSpace(**{**base(setup), "conversation": plain}, title="Long form", template=(),
                                 participants=(), key_messages=(), text="More room.")  # fmt: skip
    result = await setup.executor.execute(decision, KEY)
    assert result.status is Status.DOWNGRADED
    assert setup.server.calls("createForumTopic") == []
    assert "is not a forum" in setup.server.sent_messages(MODS)[-1]["text"]


async def test_alert_goes_to_the_moderators_with_evidence_links_and_buttons(setup: Setup) -> None:
    alert = AlertModerators(**base(setup), text="Pile-on in 1001's thread")
    result = await setup.executor.execute(alert, KEY)
    assert result.status is Status.SENT
    [sent] = setup.server.sent_messages(MODS)
    assert sent["text"].startswith("Pile-on in Ana's thread\nWhy: 3 people replied to Ana")
    assert f"https://t.me/c/1000000001/{setup.thread}/{setup.claim['message_id']}" in sent["text"]
    assert markup_data(sent) == [f"{p}:{KEY}" for p in "awosu"]


async def test_rate_limit_is_retried_after_telegrams_delay_and_bad_request_never(
    setup: Setup,
) -> None:
    setup.server.fail_next("sendMessage", 429, retry_after=7)
    limited = await setup.executor.execute(PostNotice(**base(setup), text="x"), KEY)
    assert (limited.status, limited.retry_after) == (Status.FAILED, 7.0)
    setup.server.fail_next("sendMessage", 400, "Bad Request: message text is empty")
    refused = await setup.executor.execute(PostNotice(**base(setup), text="y"), KEY2)
    assert (refused.status, refused.retry_after) == (Status.FAILED, None)
    assert "message text is empty" in refused.detail.lower()


async def test_undo_removes_notices_and_lifts_pauses(setup: Setup) -> None:
    executor, now = setup.executor, datetime.now(UTC)
    executor.roster.spoke(setup.conversation, BEN.id, now)
    await executor.execute(PostNotice(**base(setup), text="Calm."), KEY)
    await executor.execute(
        SetSlowMode(**base(setup), seconds=60, until=now + timedelta(hours=1)), KEY2
    )
    assert await executor.undo(setup.conversation) == "1 pause(s) lifted, 1 notice(s) removed"
    assert setup.server.sent_messages(FORUM, setup.thread) == []
    assert setup.server.member(FORUM, BEN.id).status == "member"


async def test_reminder_and_digest_reach_the_topic_and_the_moderators(setup: Setup) -> None:
    reminded = await setup.executor.remind_longform(
        f"telegram:{FORUM}", f"{FORUM}:{setup.thread}", "Wrap up?"
    )
    assert reminded.status is Status.SENT
    assert setup.server.sent_messages(FORUM, setup.thread)[-1]["text"] == "Wrap up?"
    digest = await setup.executor.post_to_moderators(f"telegram:{FORUM}", "Digest")
    assert digest.status is Status.SENT
    assert setup.server.sent_messages(MODS)[-1]["text"] == "Digest"
    unknown = await setup.executor.post_to_moderators("telegram:-42", "Digest")
    assert (unknown.status, unknown.retry_after) == (Status.FAILED, None)


def test_the_policy_chooses_how_slow_mode_is_emulated() -> None:
    asks = SimpleNamespace(slow_mode=SimpleNamespace(emulation="ask_admins"))
    assert emulation(asks, "restrict") == "ask_admins"  # type: ignore[arg-type]
    assert emulation(Settings(), "ask_admins") == "ask_admins"  # the policy does not say yet
    odd = SimpleNamespace(slow_mode=SimpleNamespace(emulation="ban everyone"))
    assert emulation(odd, "restrict") == "restrict"  # type: ignore[arg-type]


async def test_a_lift_cut_short_by_a_rate_limit_finishes_on_the_retry(setup: Setup) -> None:
    executor, server, now = setup.executor, setup.server, datetime.now(UTC)
    for user in (ANA, BEN):
        executor.roster.spoke(setup.conversation, user.id, now)
    await executor.execute(
        SetSlowMode(**base(setup), seconds=60, until=now + timedelta(hours=1)), KEY
    )
    server.fail_next("restrictChatMember", 429, retry_after=2)
    first = await executor.execute(LiftSlowMode(**base(setup)), KEY2)
    assert (first.status, first.retry_after) == (Status.FAILED, 2.0)
    again = await executor.execute(LiftSlowMode(**base(setup)), KEY2)
    assert again.status is Status.SENT
    assert all(server.member(FORUM, u.id).status == "member" for u in (ANA, BEN))
