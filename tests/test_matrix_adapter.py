"""The Matrix adapter end to end: the real service and matrix-nio against a real Synapse.

The homeserver is started once per session on 127.0.0.1 (tests/matrix_support.py); each test gets
a fresh space and rooms, and real registered users post in them as members would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

INSTALL = "pip install 'longform[matrix,matrix-test]' (make test does)"
pytest.importorskip("nio", reason=f"matrix-nio is not installed; {INSTALL}")
pytest.importorskip(
    "synapse", reason=f"Synapse is not installed; the Matrix tests need it: {INSTALL}"
)

from bot.runtime import jobs  # noqa: E402
from tests.matrix_support import (  # noqa: E402
    Cast,
    Served,
    Synapse,
    World,
    config,
    make_world,
    pile_on,
    register_cast,
    serving,
    texts,
)


@pytest.fixture(scope="session")
def homeserver() -> Iterator[tuple[Synapse, Cast]]:
    server = Synapse.start()
    try:
        asyncio.run(server.ready())
        cast = asyncio.run(register_cast(server))
        yield server, cast
    finally:
        server.stop()


@pytest.fixture
async def world(homeserver: tuple[Synapse, Cast]) -> World:
    return await make_world(homeserver[1])


def notices(events: list[dict[str, Any]], bot: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "m.room.message" and e["sender"] == bot
            and e["content"].get("msgtype") == "m.notice"]  # fmt: skip


async def lift_slow_mode(served: Served) -> None:
    """What the scheduler does when the slow mode's time is up (called at once, no waiting)."""
    [slow] = [e for e in served.audit("set_slow_mode") if e.outcome == "sent"]
    await jobs.lift_slow_mode(slow.community, slow.channel, slow.thread, slow.message_id,
                              slow.signal, slow.at.isoformat())  # fmt: skip
    await served.settle()


async def test_pile_on_gets_a_threaded_notice_prompt_slow_mode_long_form_room_and_alert(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    bot = cast.bot.user_id
    before = await cast.mod.state(world.room, "m.room.power_levels")
    async with serving(config(tmp_path, server, world), cast.bot.token) as served:
        root, ids = await pile_on(world)
        await served.settle(cast.mod, *cast.members.values())

        timeline = await cast.mod.timeline(world.room)
        posted = notices(timeline, bot)
        threaded = [n for n in posted if n["content"]["m.relates_to"].get("event_id") == root
                    and "!longform why" in n["content"]["body"]]  # fmt: skip
        assert threaded, "no notice was posted in the pile-on's thread"
        relation = threaded[0]["content"]["m.relates_to"]
        assert relation["rel_type"] == "m.thread"
        assert relation["m.in_reply_to"]["event_id"] in ids.values()

        [opened] = [e for e in served.audit("open_longform_space") if e.outcome == "sent"]
        venue = opened.detail.split()[1]  # "room <id> in space <id>"
        assert any(venue in n["content"]["body"] for n in posted), "no link left in the room"
        child = await cast.mod.state(world.space, "m.space.child", venue)
        assert child["via"] == ["localhost"]
        await cast.mod.join(venue)
        inside = texts(await cast.mod.timeline(venue), bot)
        assert any("•" in t for t in inside), "the template is not in the long-form room"
        assert any(t.startswith("> @") and world.room in t for t in inside), "no quotes with links"

        during = await cast.mod.state(world.room, "m.room.power_levels")
        muted = {
            u for u, level in during["users"].items() if level < during.get("events_default", 0)
        }
        assert muted, "slow mode lowered nobody's power level"
        assert cast.mod.user_id not in muted
        moderators = texts(await cast.mod.timeline(world.mods), bot)
        assert any(t.startswith("Slow mode emulated") for t in moderators)
        assert any("\nWhy: " in t and "https://matrix.to/#/" in t for t in moderators)

        states = served.service.runtime.store.states
        rooms = [
            (m, states.load(f"adapter:matrix:direct:{m.user_id}")) for m in cast.members.values()
        ]
        [(target, stored)] = [(m, found) for m, found in rooms if found is not None][:1]
        direct = stored.blob
        assert direct in await target.invites()
        await target.join(direct)
        assert any("!longform optout" in t for t in texts(await target.timeline(direct), bot))

        await lift_slow_mode(served)
        after = await cast.mod.state(world.room, "m.room.power_levels")
        assert after["users"] == before["users"], "the lift did not restore the levels exactly"
        assert any(
            t.startswith("Slow mode lifted")
            for t in texts(await cast.mod.timeline(world.mods), bot)
        )
