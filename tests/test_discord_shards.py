"""Discord through discord.py's sharded client (issue 14: ingest with the shard ids a process owns),
against the loopback fake, which routes each guild to its shard as Discord does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.runtime.app import Service
from tests.discord_support import add_members, build, discord_config, pile_on, running
from tests.fakes.discord_server import FakeDiscordServer, Ids
from tests.waiting import eventually

pytest_plugins = ("tests.fakes.discord_fixtures",)
SHARDS = 2
GUILD_SHARD = (Ids.GUILD >> 22) % SHARDS  # the fake's one guild lives on this shard


def _sharded(tmp_path: Path, server: FakeDiscordServer, shard: int) -> Service:
    here = tmp_path / f"shard{shard}"
    here.mkdir(exist_ok=True)
    config = discord_config(here, server, distributed={
        "discord_shard_ids": [shard], "discord_shard_count": SHARDS})  # fmt: skip
    return build(config, server)


async def test_the_process_owning_the_guilds_shard_judges_it_and_the_other_sees_nothing(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    other = 1 - GUILD_SHARD
    async with (
        running(_sharded(tmp_path, server, GUILD_SHARD), server) as owner,
        running(_sharded(tmp_path, server, other), server) as elsewhere,
    ):
        assert sorted(s for s in server.gateway.shards_identified if s) == [
            (0, SHARDS), (1, SHARDS)
        ]  # fmt: skip
        await pile_on(server)
        await server.wait_for(lambda: server.sent_messages(Ids.MOD_ALERTS))
        await owner.settle()
        await elsewhere.settle()
        seen_here = owner.store.journal.since(0)
        seen_there = elsewhere.store.journal.since(0)
    assert seen_here, "the owning shard's process saw none of its guild's messages"
    assert seen_there == [], "a process saw messages of a guild on another shard"
    assert [m for m in server.sent_messages(Ids.THREAD) if m["components"]], "no notice posted"


async def test_a_process_whose_shards_hold_none_of_the_guilds_starts_and_does_not_warn_of_them(
    discord_server: FakeDiscordServer, tmp_path: Path, caplog_structlog: list[dict[str, Any]]
) -> None:
    server = discord_server
    other = 1 - GUILD_SHARD
    async with running(_sharded(tmp_path, server, other), server) as elsewhere:
        await eventually(lambda: elsewhere.adapter.started, within=10, what="the shard connected")
        assert server.gateway.shards_identified == [(other, SHARDS)]
    events = [e["event"] for e in caplog_structlog]
    assert "discord_guild_missing" not in events  # it is another process's guild, not missing
    assert "discord_guild_elsewhere" in events
