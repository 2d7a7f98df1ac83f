"""gateway.py and longform.py on their own, behind the one pipeline: decisions built by hand,
carried out by a real discord.py client against the fake Discord; and the pure text helpers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from adapters.discord import texts
from adapters.discord.community import Community
from adapters.discord.errors import failure
from adapters.discord.gateway import DiscordGateway
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
from bot.core.settings import LongformSettings, Settings
from bot.runtime.pipeline import Pipeline
from bot.runtime.platform import ActionResult, Status
from bot.storage.codec import decision_key
from tests.discord_support import MANAGE_CHANNELS, buttons, remove_bot_permission
from tests.fakes.discord_client import StartClient, default_intents
from tests.fakes.discord_server import FakeDiscordServer, Ids

pytest_plugins = ("tests.fakes.discord_fixtures",)

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
KEY = "0123456789abcdef0123456789abcdef"
COMMUNITY = f"discord:{Ids.GUILD}"
IN_THREAD = ConversationKey(COMMUNITY, str(Ids.GENERAL), str(Ids.THREAD))
IN_GENERAL = ConversationKey(COMMUNITY, str(Ids.GENERAL))
KNOWN = {Ids.GUILD: Community(Ids.GUILD, Ids.MOD_ALERTS, Ids.FORUM)}


class StubService:
    """What the executor reads of the service: fixed settings, mode and clock."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings or Settings()

    def settings(self, _community: str, _channel: str) -> Settings:
        return self._settings

    def mode(self, _community: str) -> str:
        return "live"

    def now(self) -> datetime:
        return NOW


def base(
    conversation: ConversationKey = IN_THREAD, evidence: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {"conversation": conversation, "message_id": "1", "at": NOW, "signal": Signal.PILE_ON,
            "reason": "3 people replied to 1300000000000000501 within 2 minutes.",
            "evidence": Evidence(evidence, (("pile_on", 0.9),))}  # fmt: skip


class DiscordExecutor:
    """The one pipeline over the Discord gateway, as the adapter runs it, without a runtime."""

    def __init__(self, gateway: DiscordGateway, service: StubService) -> None:
        self.client = gateway.client
        self.pipeline = Pipeline(gateway, gateway.steps, service.settings)

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        # A lift finds its slow mode by the outbox key, which is the decision's own key: these
        # tests' made-up keys stand in for it everywhere else.
        if isinstance(decision, SetSlowMode):
            key = decision_key(decision, "discord")
        return await self.pipeline.execute(decision, key)


async def executor(
    start: StartClient, service: StubService | None = None, known: Any = KNOWN, timeout: float = 2.0
) -> DiscordExecutor:
    client = discord.Client(intents=default_intents(), guild_ready_timeout=0.01,
                            max_ratelimit_timeout=30.0)  # fmt: skip
    await start(client)
    service = service or StubService()
    gateway = DiscordGateway(client, known, service, timeout)  # type: ignore[arg-type]
    return DiscordExecutor(gateway, service)


async def test_a_notice_is_posted_quietly_with_buttons_and_never_twice(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    ex = await executor(discord_client)
    notice = PostNotice(
        **base(),
        text="A lot of replies are arriving for 1300000000000000501.",
        offers_longform=True,
    )

    first = await ex.execute(notice, KEY)
    again = await ex.execute(notice, KEY)
    after_restart = await (await executor(discord_client)).execute(notice, KEY)

    (message,) = discord_server.sent_messages(Ids.THREAD)
    body = discord_server.requests_to("POST", f"/channels/{Ids.THREAD}/messages")[0].json
    assert (first.status, first.reference) == (Status.SENT, message["id"])
    assert again == first
    assert after_restart.reference == message["id"]  # Discord dropped the repeated nonce
    assert message["content"] == "A lot of replies are arriving for Ana."
    assert (body["nonce"], body["enforce_nonce"], body["allowed_mentions"]) == (
        KEY[:25], True, {"parse": []}
    )  # fmt: skip
    assert set(buttons(message).values()) == {
        f"lf:{a}:{KEY}" for a in ("longform", "why", "unhelpful")
    }


async def test_a_prompt_is_a_dm_or_when_dms_are_closed_a_neutral_public_note(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    ex = await executor(discord_client)
    prompt = PromptMember(**base(), member=str(Ids.ANA), kind=PromptKind.PILE_ON_TARGET,
                          text="Hi 1300000000000000501, take your time.")  # fmt: skip

    to_ana = await ex.execute(prompt, KEY)
    to_cleo = await ex.execute(replace(prompt, member=str(Ids.CLEO)), KEY[::-1])

    assert to_ana.status is Status.SENT
    assert discord_server.dms(Ids.ANA)[0]["content"] == "Hi Ana, take your time."
    assert to_cleo.status is Status.DOWNGRADED
    (note,) = discord_server.sent_messages(Ids.THREAD)
    assert note["content"] == texts.NOTE_NOTICE
    assert buttons(note) == {"Show my note": f"lf:note:{KEY[::-1]}"}


async def test_slow_mode_is_set_and_lifted_once(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    ex = await executor(discord_client)
    slow = SetSlowMode(**base(IN_GENERAL), seconds=120, until=NOW + timedelta(minutes=30))
    lift = LiftSlowMode(**base(IN_GENERAL))

    set_result = await ex.execute(slow, KEY)
    await discord_server.wait_for(lambda: ex.client.get_channel(Ids.GENERAL).slowmode_delay == 120)  # type: ignore[union-attr]
    lifted = await ex.execute(lift, KEY[::-1])
    await discord_server.wait_for(lambda: ex.client.get_channel(Ids.GENERAL).slowmode_delay == 0)  # type: ignore[union-attr]
    again = await ex.execute(lift, "f" * 32)

    assert (set_result.status, set_result.reference) == (Status.SENT, str(Ids.GENERAL))
    assert lifted.status is Status.SENT
    assert again.status is Status.SKIPPED
    patches = discord_server.requests_to("PATCH", f"/channels/{Ids.GENERAL}")
    assert [p.json["rate_limit_per_user"] for p in patches] == [120, 0]


async def test_a_permission_missing_from_the_cache_downgrades_without_calling_discord(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    remove_bot_permission(discord_server, MANAGE_CHANNELS)
    ex = await executor(discord_client)
    slow = SetSlowMode(**base(IN_GENERAL), seconds=120, until=NOW + timedelta(minutes=30))

    result = await ex.execute(slow, KEY)

    assert result.status is Status.DOWNGRADED
    assert "Manage Channels" in result.detail
    assert discord_server.requests_to("PATCH", "/channels/*") == []
    (alert,) = discord_server.sent_messages(Ids.MOD_ALERTS)
    assert alert["content"].startswith(f"**Longform could not set slow mode** in <#{Ids.GENERAL}>")
    assert "**Manage Channels**" in alert["content"]
    assert "Undo" in buttons(alert)


@pytest.mark.parametrize(
    ("status", "retry_after", "expected_retry"),
    [(404, 0.0, None), (400, 0.0, None), (429, 60.0, 60.0)],
)
async def test_platform_errors_become_results_that_say_when_to_retry(
    discord_server: FakeDiscordServer,
    discord_client: StartClient,
    status: int,
    retry_after: float,
    expected_retry: float | None,
) -> None:
    ex = await executor(discord_client)
    discord_server.fail_next(
        "POST", f"/channels/{Ids.THREAD}/messages", status, retry_after=retry_after
    )

    result = await ex.execute(PostNotice(**base(), text="hello"), KEY)

    assert (result.status, result.retry_after) == (Status.FAILED, expected_retry)


async def test_a_call_that_hangs_times_out_and_is_retried_later(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    ex = await executor(discord_client, timeout=0.2)
    discord_server.hang_next("POST", f"/channels/{Ids.THREAD}/messages", 30)

    result = await ex.execute(PostNotice(**base(), text="hello"), KEY)

    assert (result.status, result.retry_after) == (Status.FAILED, 0.0)
    assert "within 0.2 s" in result.detail


def test_server_errors_are_retried_and_refusals_are_not() -> None:
    def http(status: int) -> discord.HTTPException:
        response = SimpleNamespace(status=status, reason="x", headers={"Retry-After": "7"})
        return discord.HTTPException(response, {"message": "x", "code": 0})  # type: ignore[arg-type]

    assert failure(http(503), 10).retry_after == 0.0
    assert failure(http(429), 10).retry_after == 7.0
    assert failure(http(403), 10).retry_after is None
    assert failure(discord.RateLimited(42.0), 10).retry_after == 42.0


async def test_an_alert_links_its_evidence_and_carries_the_moderators_buttons(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    ex = await executor(discord_client)
    alert = AlertModerators(**base(evidence=("1574400000000000001",)),
                            text="Pile-on in 1300000000000000304 (messages: 1574400000000000001)")  # fmt: skip

    result = await ex.execute(alert, KEY)

    (message,) = discord_server.sent_messages(Ids.MOD_ALERTS)
    assert result.reference == message["id"]
    link = f"https://discord.com/channels/{Ids.GUILD}/{Ids.THREAD}/1574400000000000001"
    assert f"Pile-on in <#{Ids.THREAD}> (messages: [1]({link}))" in message["content"]
    assert list(buttons(message)) == [
        "Acknowledge",
        "Mark wrong",
        "Open long form",
        "Set slow mode",
        "Undo",
    ]


async def space_decision(server: FakeDiscordServer) -> OpenLongformSpace:
    claim = await server.send_message(
        Ids.GENERAL, Ids.ANA, "Weight-based dosing works.", thread=Ids.THREAD
    )
    reply = await server.send_message(Ids.GENERAL, Ids.BEN, "Not in renal failure.", reply_to=int(claim["id"]),
                                      thread=Ids.THREAD)  # fmt: skip
    return OpenLongformSpace(
        **base(evidence=(reply["id"],)), title=f"Long form: {Ids.THREAD}", template=("My claim", "My evidence"),
        participants=(str(Ids.BEN),), key_messages=(reply["id"], "404"), text="More room here.",
    )  # fmt: skip


async def test_a_long_form_space_is_a_tagged_slow_forum_post_linked_from_the_thread(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    settings = Settings(
        longform=LongformSettings(tags=("clinical", "Methods"), slow_mode_seconds=300)
    )
    ex = await executor(discord_client, StubService(settings))
    decision = await space_decision(discord_server)

    result = await ex.execute(decision, KEY)
    again = await (await executor(discord_client, StubService(settings))).execute(
        decision, KEY[::-1]
    )

    (post,) = discord_server.forum_posts(Ids.FORUM)
    assert (result.status, result.reference, again.reference) == (
        Status.SENT,
        post["id"],
        post["id"],
    )
    assert post["name"] == "Long form: case-review"
    assert post["rate_limit_per_user"] == 300
    assert set(post["applied_tags"]) == {str(Ids.TAG_CLINICAL), str(Ids.TAG_METHODS)}
    content = post["message"]["content"]
    assert content.startswith("More room here.\n\n**My claim**: …\n**My evidence**: …")
    assert "> Not in renal failure." in content
    assert {int(m["id"]) for m in post["message"]["mentions"]} == {Ids.ANA, Ids.BEN}
    assert content.count(f"<@{Ids.BEN}>") == 1
    link = discord_server.sent_messages(Ids.THREAD)[-1]
    assert post["id"] in link["content"]
    assert link["mentions"] == []


async def test_without_a_forum_the_space_becomes_a_moderator_alert(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    ex = await executor(discord_client, known={Ids.GUILD: Community(Ids.GUILD, Ids.MOD_ALERTS)})

    result = await ex.execute(await space_decision(discord_server), KEY)

    assert result.status is Status.DOWNGRADED
    (alert,) = discord_server.sent_messages(Ids.MOD_ALERTS)
    assert "no long-form forum is configured" in alert["content"]


async def test_with_consent_first_the_engine_only_offers_and_a_request_opens(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    settings = Settings(longform=LongformSettings(ask_consent=True))
    ex = await executor(discord_client, StubService(settings))
    decision = await space_decision(discord_server)

    offered = await ex.execute(decision, KEY)
    requested = replace(
        decision,
        reason="Requested by Ben: accepted the offer of a long-form space.",
        requested_by=str(Ids.BEN),
    )
    opened = await ex.execute(requested, KEY[::-1])

    assert (offered.status, offered.reference) == (Status.SENT, "")  # no reminder for an offer
    offer = discord_server.sent_messages(Ids.THREAD)[-2]
    assert offer["content"] == texts.CONSENT_OFFER
    assert buttons(offer)["Yes, open a long-form space"] == f"lf:consent:{KEY}"
    assert opened.reference == discord_server.forum_posts(Ids.FORUM)[0]["id"]


def test_humanize_names_people_and_channels_but_leaves_links_and_mentions_alone() -> None:
    names = {1300000000000000501: "Ana", 1300000000000000304: "<#1300000000000000304>"}
    text = ("Hi 1300000000000000501 in 1300000000000000304, see "
            "https://discord.com/channels/1/1300000000000000304 and <@1300000000000000501>")  # fmt: skip

    assert texts.humanize(text, names) == (
        "Hi Ana in <#1300000000000000304>, see "
        "https://discord.com/channels/1/1300000000000000304 and <@1300000000000000501>"
    )


def test_long_texts_are_split_and_clipped_within_discord_limits() -> None:
    text = "\n".join(["a" * 1500, "b" * 1500, "c" * 4500])

    parts = texts.chunks(text)

    assert all(len(part) <= texts.MESSAGE_LIMIT for part in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert len(texts.title("x" * 300, "", "")) == texts.TITLE_LIMIT
