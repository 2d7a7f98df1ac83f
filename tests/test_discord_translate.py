"""translate.py on its own: real discord.py objects (parsed from the fake's payloads by a client
connected to it) in, core events or None out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord
import pytest

from adapters.discord import translate
from adapters.discord.community import Community
from bot.core.events import MemberJoined, MessageDeleted, MessageEdited, MessagePosted
from tests.fakes import discord_state as ds
from tests.fakes.discord_client import StartClient
from tests.fakes.discord_server import FakeDiscordServer, Ids

pytest_plugins = ("tests.fakes.discord_fixtures",)

POST = 1300000000000000305  # a forum post in FORUM
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
KNOWN = {Ids.GUILD: Community(Ids.GUILD, Ids.MOD_ALERTS, Ids.FORUM)}
COMMUNITY = f"discord:{Ids.GUILD}"


@pytest.fixture
async def client(discord_server: FakeDiscordServer, discord_client: StartClient) -> discord.Client:
    discord_server.world.channels[POST] = ds.FakeChannel(
        POST, ds.PUBLIC_THREAD, "weight-based dosing", parent_id=Ids.FORUM
    )
    return await discord_client()


def parse(client: discord.Client, payload: dict[str, Any]) -> discord.Message:
    """The discord.Message the client builds from a gateway payload."""
    channel = client.get_channel(int(payload["channel_id"]))
    return discord.Message(state=client._connection, channel=channel, data=payload)  # type: ignore[arg-type]


def payload(
    server: FakeDiscordServer, channel: int, author: int, text: str, **extra: Any
) -> dict[str, Any]:
    return ds.message_payload(
        channel_id=channel, guild_id=Ids.GUILD, author=server.user(author), content=text, **extra
    )


async def test_a_reply_in_a_thread_names_its_conversation_target_mentions_and_roles(
    discord_server: FakeDiscordServer, client: discord.Client
) -> None:
    first = payload(discord_server, Ids.THREAD, Ids.ANA, "Dosing should follow weight.")
    reply = payload(
        discord_server, Ids.THREAD, Ids.DANA, "Not for renal patients <@1300000000000000502>",
        reply_to=first, mentions=[discord_server.user(Ids.BEN), discord_server.world.bot],
    )  # fmt: skip

    event = translate.message_posted(parse(client, reply), KNOWN)

    assert isinstance(event, MessagePosted)
    assert (event.community, event.channel, event.thread) == (
        COMMUNITY, str(Ids.GENERAL), str(Ids.THREAD)
    )  # fmt: skip
    assert (event.reply_to, event.reply_to_author) == (first["id"], str(Ids.ANA))
    assert event.mentions == (str(Ids.BEN),)  # the bot is not a person being piled on
    assert event.author == str(Ids.DANA)
    assert event.author_roles == {str(Ids.MODERATORS), "Moderators"}
    assert event.author_joined_at is not None
    assert event.at.tzinfo is not None


async def test_a_message_in_a_forum_post_belongs_to_the_forum_and_the_post(
    discord_server: FakeDiscordServer, client: discord.Client
) -> None:
    message = parse(client, payload(discord_server, POST, Ids.BEN, "Here is my evidence."))

    event = translate.message_posted(message, KNOWN)

    assert event is not None
    assert (event.channel, event.thread) == (str(Ids.FORUM), str(POST))
    assert (event.reply_to, event.text) == (None, "Here is my evidence.")


async def test_bots_webhooks_system_messages_dms_and_other_guilds_are_ignored(
    discord_server: FakeDiscordServer, client: discord.Client
) -> None:
    bot = payload(discord_server, Ids.GENERAL, Ids.BOT, "A notice from Longform.")
    system = payload(discord_server, Ids.GENERAL, Ids.ANA, "") | {"type": 7}  # member joined
    webhook = payload(discord_server, Ids.GENERAL, Ids.ANA, "via hook") | {"webhook_id": "1"}
    dm_channel = int(discord_server.dm_payload(Ids.ANA)["id"])
    await client.create_dm(discord.Object(Ids.ANA))  # type: ignore[arg-type]
    dm = ds.message_payload(channel_id=dm_channel, guild_id=None,
                            author=discord_server.user(Ids.ANA), content="hi bot")  # fmt: skip

    ignored = [
        translate.message_posted(parse(client, p), KNOWN) for p in (bot, system, webhook, dm)
    ]
    unknown = translate.message_posted(
        parse(client, payload(discord_server, Ids.GENERAL, Ids.ANA, "x")), {}
    )

    assert ignored == [None, None, None, None]
    assert unknown is None


async def test_only_watched_channels_count_and_threads_follow_their_parent(
    discord_server: FakeDiscordServer, client: discord.Client
) -> None:
    watching = {Ids.GUILD: Community(Ids.GUILD, channels=frozenset({Ids.GENERAL}))}
    in_thread = parse(client, payload(discord_server, Ids.THREAD, Ids.ANA, "in the thread"))
    in_forum = parse(client, payload(discord_server, POST, Ids.ANA, "in a forum post"))

    assert translate.message_posted(in_thread, watching) is not None
    assert translate.message_posted(in_forum, watching) is None


async def test_an_edit_is_judged_only_when_its_text_changed(
    discord_server: FakeDiscordServer, client: discord.Client
) -> None:
    before = payload(discord_server, Ids.GENERAL, Ids.ANA, "first draft")
    after = before | {"content": "second draft", "edited_timestamp": NOW.isoformat()}
    changed = discord.RawMessageUpdateEvent(after, parse(client, after))  # type: ignore[arg-type]
    changed.cached_message = parse(client, before)
    unfurled = discord.RawMessageUpdateEvent(before, parse(client, before))  # type: ignore[arg-type]
    unfurled.cached_message = parse(client, before)

    event = translate.message_edited(changed, KNOWN, NOW)

    assert event == MessageEdited(id=before["id"], at=NOW, text="second draft")
    assert translate.message_edited(unfurled, KNOWN, NOW) is None


async def test_deletions_and_joins_in_a_configured_guild_become_events(
    discord_server: FakeDiscordServer, client: discord.Client
) -> None:
    gone = {"id": "42", "channel_id": str(Ids.GENERAL), "guild_id": str(Ids.GUILD)}
    bulk = {"ids": ["43", "41"], "channel_id": str(Ids.GENERAL), "guild_id": str(Ids.GUILD)}
    guild = client.get_guild(Ids.GUILD)
    assert guild is not None
    ana, bot = guild.get_member(Ids.ANA), guild.get_member(Ids.BOT)
    assert ana is not None
    assert bot is not None

    deleted = translate.message_deleted(discord.RawMessageDeleteEvent(gone), KNOWN, NOW)  # type: ignore[arg-type]
    many = translate.messages_deleted(discord.RawBulkMessageDeleteEvent(bulk), KNOWN, NOW)  # type: ignore[arg-type]
    joined = translate.member_joined(ana, KNOWN, NOW)

    assert deleted == MessageDeleted(id="42", at=NOW)
    assert [e.id for e in many] == ["41", "43"]
    assert joined == MemberJoined(at=ana.joined_at or NOW, community=COMMUNITY, user=str(Ids.ANA))
    assert translate.member_joined(bot, KNOWN, NOW) is None
    assert translate.message_deleted(discord.RawMessageDeleteEvent(gone), {}, NOW) is None  # type: ignore[arg-type]
