"""The fake Discord, proved with the real discord.py client against it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.fakes.discord_client import ErrorLog, StartClient, build_client, default_intents, discord
from tests.fakes.discord_server import FakeDiscordServer, Ids

pytest_plugins = ("tests.fakes.discord_fixtures",)
pytestmark = pytest.mark.asyncio


def collecting_client(*events: str) -> tuple[discord.Client, dict[str, list[tuple[Any, ...]]]]:
    """A client that records the arguments of each named event (`message`, `message_edit`, ...)."""
    client = build_client()
    seen: dict[str, list[tuple[Any, ...]]] = {event: [] for event in events}
    for event in events:

        async def handler(*args: Any, _event: str = event) -> None:
            seen[_event].append(args)

        setattr(client, f"on_{event}", handler)
    return client, seen


class AckView(discord.ui.View):
    """One button whose callback answers only the clicker."""

    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.clicked_by: list[int] = []

    @discord.ui.button(label="I'll take it slower", custom_id="longform:ack")
    async def ack(
        self, interaction: discord.Interaction, _button: discord.ui.Button[AckView]
    ) -> None:
        self.clicked_by.append(interaction.user.id)
        await interaction.response.send_message("Thanks, noted.", ephemeral=True)


async def test_login_gives_ready_and_a_full_guild_cache(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client = await discord_client()

    guild = client.get_guild(Ids.GUILD)
    assert guild is not None
    assert client.user is not None
    assert client.user.id == Ids.BOT
    assert guild.default_role.id == Ids.GUILD
    assert {c.name for c in guild.text_channels} == {"general", "mod-alerts"}
    assert [t.name for t in guild.forums[0].available_tags] == ["discussion", "clinical", "methods"]
    assert guild.get_thread(Ids.THREAD) is not None
    assert guild.chunked
    assert guild.get_member(Ids.CLEO) is not None
    identify = next(op for op in discord_server.gateway.received if op["op"] == 2)
    assert identify["d"]["intents"] & (1 << 15)
    assert [r.path for r in discord_server.requests] == ["/users/@me", "/oauth2/applications/@me"]


async def test_on_message_gets_content_reply_reference_and_mentions(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client, seen = collecting_client("message")
    await discord_client(client)

    first = await discord_server.send_message(Ids.GENERAL, Ids.ANA, "Dosing should follow weight.")
    await discord_server.send_message(
        Ids.GENERAL,
        Ids.BEN,
        "That ignores renal function <@1300000000000000504>",
        reply_to=int(first["id"]),
    )
    await discord_server.wait_for(lambda: len(seen["message"]) == 2)

    reply = seen["message"][1][0]
    assert isinstance(reply, discord.Message)
    assert reply.content.startswith("That ignores renal function")
    assert reply.type is discord.MessageType.reply
    assert reply.reference is not None
    assert reply.reference.message_id == int(first["id"])
    assert isinstance(reply.reference.resolved, discord.Message)
    assert reply.reference.resolved.content == "Dosing should follow weight."
    assert {m.id for m in reply.mentions} == {Ids.DANA, Ids.ANA}  # the reply pings its target
    assert isinstance(reply.author, discord.Member)
    assert reply.guild is not None


async def test_member_events_reach_the_client(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client, seen = collecting_client("message_edit", "message_delete", "member_join")
    await discord_client(client)
    message = await discord_server.send_message(Ids.GENERAL, Ids.ANA, "first draft")

    await discord_server.edit_message(int(message["id"]), "second draft")
    await discord_server.delete_message(int(message["id"]))
    await discord_server.member_join(1300000000000000999, "newcomer")
    await discord_server.wait_for(lambda: all(seen.values()))

    before, after = seen["message_edit"][0]
    assert isinstance(after, discord.Message)
    assert after.content == "second draft"
    assert isinstance(before, discord.Message)
    assert before.content == "first draft"
    member = seen["member_join"][0][0]
    assert isinstance(member, discord.Member)
    assert member.name == "newcomer"


async def test_bot_reply_carries_reference_and_allowed_mentions(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client, seen = collecting_client("message")
    await discord_client(client)
    await discord_server.send_message(Ids.GENERAL, Ids.ANA, "hello")
    message = (await discord_server.wait_for(lambda: seen["message"]))[0][0]
    assert isinstance(message, discord.Message)

    await message.reply("Let's slow down a little.", mention_author=False)
    fetched = await message.channel.fetch_message(message.id)

    body = discord_server.requests_to("POST", f"/channels/{Ids.GENERAL}/messages")[-1].json
    assert body["message_reference"]["message_id"] == message.id
    assert body["allowed_mentions"]["replied_user"] is False
    assert fetched.content == "hello"
    sent = discord_server.sent_messages(Ids.GENERAL)
    assert sent[-1]["type"] == 19
    assert sent[-1]["mentions"] == []


async def test_button_click_reaches_the_view_which_answers_ephemerally(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client = await discord_client()
    channel = client.get_channel(Ids.GENERAL)
    assert isinstance(channel, discord.TextChannel)
    view = AckView()

    notice = await channel.send("This thread is heating up.", view=view)
    stored = discord_server.sent_messages(Ids.GENERAL)[-1]
    assert stored["components"][0]["components"][0]["custom_id"] == "longform:ack"
    await discord_server.click_button(notice.id, "longform:ack", Ids.BEN)
    response = (await discord_server.wait_for(discord_server.interaction_responses))[0]

    assert view.clicked_by == [Ids.BEN]
    assert (response.type, response.ephemeral, response.content) == (4, True, "Thanks, noted.")
    assert response.user_id == Ids.BEN
    assert response.custom_id == "longform:ack"
    assert (
        len(discord_server.messages(Ids.GENERAL)) == 1
    )  # ephemeral answers are not in the channel


async def test_dm_to_a_member_with_closed_dms_raises_forbidden(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client, seen = collecting_client("message")
    await discord_client(client)
    guild = client.get_guild(Ids.GUILD)
    assert guild is not None
    cleo, ana = guild.get_member(Ids.CLEO), guild.get_member(Ids.ANA)
    assert cleo is not None
    assert ana is not None

    with pytest.raises(discord.Forbidden, match="Cannot send messages to this user") as refused:
        await cleo.send("A gentle note about tone.")
    await ana.send("A gentle note about tone.")
    await discord_server.send_dm(Ids.ANA, "Thanks, fair point.")
    await discord_server.wait_for(lambda: any(m.author.id == Ids.ANA for (m,) in seen["message"]))

    assert refused.value.code == 50007
    assert discord_server.dms(Ids.CLEO) == []
    assert [m["content"] for m in discord_server.dms(Ids.ANA)] == ["A gentle note about tone."]


async def test_slow_mode_is_set_validated_and_reaches_the_cache(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client = await discord_client()
    channel = client.get_channel(Ids.GENERAL)
    assert isinstance(channel, discord.TextChannel)

    await channel.edit(slowmode_delay=120)
    with pytest.raises(discord.HTTPException, match="Must be between 0 and 21600") as too_slow:
        await channel.edit(slowmode_delay=21601)
    await discord_server.wait_for(lambda: channel.slowmode_delay == 120)

    assert discord_server.channel(Ids.GENERAL).rate_limit_per_user == 120
    assert (too_slow.value.status, too_slow.value.code) == (400, 50035)


async def test_forum_post_with_tags_and_its_own_slow_mode(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client = await discord_client()
    forum = client.get_channel(Ids.FORUM)
    assert isinstance(forum, discord.ForumChannel)
    tags = [t for t in forum.available_tags if t.name in ("clinical", "discussion")]

    created = await forum.create_thread(
        name="Long-form: weight-based dosing",
        content="Let's lay out the evidence.",
        applied_tags=tags,
        slowmode_delay=600,
    )
    post = discord_server.forum_posts(Ids.FORUM)[0]
    await discord_server.wait_for(lambda: client.get_channel(created.thread.id))
    fetched = await client.fetch_channel(created.thread.id)

    assert post["name"] == "Long-form: weight-based dosing"
    assert post["rate_limit_per_user"] == 600
    assert set(post["applied_tags"]) == {str(Ids.TAG_CLINICAL), str(Ids.TAG_DISCUSSION)}
    assert post["message"]["content"] == "Let's lay out the evidence."
    assert isinstance(fetched, discord.Thread)
    assert [t.name for t in fetched.applied_tags] == ["discussion", "clinical"]
    assert created.message.id == created.thread.id
    assert created.thread.slowmode_delay == 600


async def test_forced_429_is_retried_and_then_succeeds(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client = await discord_client()
    channel = client.get_channel(Ids.GENERAL)
    assert isinstance(channel, discord.TextChannel)
    path = f"/channels/{Ids.GENERAL}/messages"
    discord_server.fail_next("POST", path, 429, retry_after=0.05)

    await channel.send("Posted after the rate limit.")

    assert [r.status for r in discord_server.requests_to("POST", path)] == [429, 200]
    assert (
        discord_server.sent_messages(Ids.GENERAL)[-1]["content"] == "Posted after the rate limit."
    )


async def test_forced_403_and_hang_surface_as_errors(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client = await discord_client()
    channel = client.get_channel(Ids.GENERAL)
    assert isinstance(channel, discord.TextChannel)
    discord_server.fail_next("POST", "/channels/*/messages", 403)
    discord_server.hang_next("POST", "/channels/*/messages", 30)

    with pytest.raises(discord.Forbidden, match="Missing Permissions") as forbidden:
        await channel.send("nope")
    with pytest.raises(TimeoutError, match=r"^$"):  # wait_for's own: no message, the type says it
        await asyncio.wait_for(channel.send("slow"), 0.2)

    assert forbidden.value.code == 50013


async def test_missing_message_content_intent_closes_4014(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    discord_server.settings.require_message_content = True

    with pytest.raises(discord.PrivilegedIntentsRequired, match="requesting privileged intents"):
        await discord_client(build_client(discord.Intents.default()))

    assert discord_server.gateway.close_codes == [4014]


async def test_bad_token_fails_login(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    with pytest.raises(discord.LoginFailure, match="Improper token has been passed"):
        await discord_client(token="not-the-token")

    assert discord_server.requests[0].status == 401


async def test_gateway_rejects_a_revoked_token_with_4004(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    discord_server.settings.token = "rotated"

    with pytest.raises(discord.ConnectionClosed, match="WebSocket closed with 4004") as closed:
        await discord_client()

    assert closed.value.code == 4004


async def test_dropped_connection_resumes_and_replays_missed_events(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client, seen = collecting_client("message", "resumed")
    await discord_client(client)

    await discord_server.drop_connection()
    await discord_server.send_message(Ids.GENERAL, Ids.ANA, "sent while the socket was down")
    await discord_server.wait_for(lambda: seen["message"] and seen["resumed"])

    message = seen["message"][0][0]
    assert isinstance(message, discord.Message)
    assert message.content == "sent while the socket was down"
    assert (discord_server.gateway.identifies, discord_server.gateway.resumes) == (1, 1)


async def test_an_error_in_a_view_callback_is_caught_by_the_log_check(
    discord_server: FakeDiscordServer, discord_client: StartClient, discord_errors: ErrorLog
) -> None:
    class BrokenView(discord.ui.View):
        @discord.ui.button(label="Boom", custom_id="boom")
        async def boom(
            self, _interaction: discord.Interaction, _button: discord.ui.Button[BrokenView]
        ) -> None:
            raise RuntimeError("handler bug")

    client = await discord_client()
    channel = client.get_channel(Ids.GENERAL)
    assert isinstance(channel, discord.TextChannel)
    notice = await channel.send("Click me", view=BrokenView(timeout=None))

    await discord_server.click_button(notice.id, "boom", Ids.ANA)
    await discord_server.wait_for(lambda: discord_errors.records)

    assert "Ignoring exception in view" in discord_errors.take()[0].getMessage()


async def test_without_message_content_intent_only_mentions_keep_their_text(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    client = build_client(discord.Intents.default())
    seen: list[str] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    await discord_client(client)
    await discord_server.send_message(Ids.GENERAL, Ids.ANA, "invisible to the bot")
    await discord_server.send_message(Ids.GENERAL, Ids.ANA, f"<@{Ids.BOT}> visible")
    await discord_server.wait_for(lambda: len(seen) == 2)

    assert seen == ["", f"<@{Ids.BOT}> visible"]


async def test_commands_bot_defers_a_click_then_follows_up_and_edits_the_original(
    discord_server: FakeDiscordServer, discord_client: StartClient
) -> None:
    from discord.ext import commands

    class SlowView(discord.ui.View):
        @discord.ui.button(label="Explain", custom_id="longform:explain")
        async def explain(
            self, interaction: discord.Interaction, _button: discord.ui.Button[SlowView]
        ) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send("Here is why.", ephemeral=True)
            await interaction.edit_original_response(content="Done thinking.")

    bot = commands.Bot(command_prefix="!", intents=default_intents(), guild_ready_timeout=0.01)
    await discord_client(bot)
    channel = bot.get_channel(Ids.GENERAL)
    assert isinstance(channel, discord.TextChannel)
    notice = await channel.send("Why was this flagged?", view=SlowView(timeout=None))

    await discord_server.click_button(notice.id, "longform:explain", Ids.ANA)
    await discord_server.wait_for(lambda: len(discord_server.interaction_responses()) == 3)

    responses = discord_server.interaction_responses()
    assert [(r.kind, r.type, r.ephemeral) for r in responses] == [
        ("callback", 5, True),
        ("followup", None, True),
        ("edit", None, True),
    ]
    assert responses[2].message is not None
    assert responses[2].message["content"] == "Done thinking."
    assert discord_server.sent_messages(Ids.GENERAL) == [discord_server.message(notice.id)]
