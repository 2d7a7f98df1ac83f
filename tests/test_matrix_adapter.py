"""The Matrix adapter end to end: the real service and matrix-nio against a real Synapse.

The homeserver is started once per session on 127.0.0.1 (tests/matrix_support.py); each test gets
a fresh space and rooms, and real registered users post in them as members would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

INSTALL = "pip install 'longform[matrix,matrix-test]' (make test does)"
pytest.importorskip("nio", reason=f"matrix-nio is not installed; {INSTALL}")
pytest.importorskip(
    "synapse", reason=f"Synapse is not installed; the Matrix tests need it: {INSTALL}"
)

from bot.core.decisions import OpenLongformSpace  # noqa: E402
from bot.core.events import MemberJoined, MessageDeleted, MessageEdited, MessagePosted  # noqa: E402
from bot.runtime import jobs  # noqa: E402
from bot.runtime.app import StartupError  # noqa: E402
from bot.storage.codec import decode  # noqa: E402
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
from tests.waiting import eventually  # noqa: E402


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


POLICIES = Path(__file__).resolve().parents[1] / "policies"


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
        venue = opened.detail.split()[2]  # the pipeline's "long form <id>"
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
        # A participant moves there and writes: the engine counts it (issue 17's "moved").
        amara = cast.members["dr_amara"]
        await amara.join(venue)
        await amara.say(venue, "My claim: a swab first, then decide.")
        await served.settle(amara)
        runtime = served.service.runtime
        await runtime.tick(runtime.clock() + timedelta(hours=3))
        [space] = [o for o in runtime.store.outcomes.read() if o.action == "open_longform_space"]
        assert space.measures["moved"] == 1.0


async def test_a_moderators_undo_in_reply_to_the_alert_restores_levels_and_redacts_notices(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    bot = cast.bot.user_id
    before = await cast.mod.state(world.room, "m.room.power_levels")
    async with serving(config(tmp_path, server, world), cast.bot.token) as served:
        await pile_on(world)
        await served.settle(cast.mod, *cast.members.values())
        assert notices(await cast.mod.timeline(world.room), bot), "no notice to undo"
        alerts = [n for n in notices(await cast.mod.timeline(world.mods), bot)
                  if "!longform undo" in n["content"]["body"]]  # fmt: skip
        assert alerts, "the alert does not say how to undo"
        notice = next(n for n in notices(await cast.mod.timeline(world.room), bot)
                      if "!longform why" in n["content"]["body"])  # fmt: skip
        undo = await cast.mod.say(world.mods, "!longform undo", reply_to=alerts[0]["event_id"])
        await served.settle(cast.mod)
        [done] = answers(await cast.mod.timeline(world.mods), bot, undo)
        assert done.startswith("Undone: 1 slow mode(s) lifted, ")
        member = cast.members["nurse_priya"]  # free to speak again: the levels are restored
        refused = await member.say(world.room, "!longform undo", reply_to=notice["event_id"])
        await served.settle(member)
        assert answers(await cast.mod.timeline(world.room), bot, refused) == [
            "Only moderators (power level 50 or more) can undo what Longform did."
        ]
        after = await cast.mod.state(world.room, "m.room.power_levels")
        assert after["users"] == before["users"], "the undo did not restore the levels exactly"
        left = [n for n in notices(await cast.mod.timeline(world.room), bot)
                if "!longform why" in n["content"]["body"]]  # fmt: skip
        assert left == [], "Longform's notices are still there after the undo"
        undone = [e for e in served.audit("alert_moderators") if e.outcome == "undone"]
        assert len(undone) == 1
        assert undone[0].detail.startswith(f"undone by {cast.mod.user_id}.")


def answers(events: list[dict[str, Any]], bot: str, to: str) -> list[str]:
    """The bot's replies to the event ``to``."""
    return [e["content"]["body"] for e in notices(events, bot)
            if e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == to]  # fmt: skip


async def test_mode_command_is_for_moderators_and_status_why_optout_for_everyone(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    bot, member = cast.bot.user_id, cast.members["dr_amara"]
    async with serving(config(tmp_path, server, world), cast.bot.token) as served:
        refused = await member.say(world.room, "!longform mode shadow")
        status = await member.say(world.room, "!longform status")
        optout = await member.say(world.room, "!longform optout")
        policy = await member.say(world.room, "!longform policy")
        changed = await cast.mod.say(world.room, "!longform mode shadow")
        await served.settle(member, cast.mod)
        timeline = await cast.mod.timeline(world.room)
        assert answers(timeline, bot, refused) == [
            "Only moderators (power level 50 or more) can change Longform's mode."
        ]
        [said] = answers(timeline, bot, status)
        assert said.startswith("Longform is in live mode")
        assert answers(timeline, bot, changed) == ["Longform is now in shadow mode here."]
        assert served.service.runtime.community(f"matrix:{world.space}").mode == "shadow"
        assert "no more private notes" in answers(timeline, bot, optout)[0]
        assert answers(timeline, bot, policy)[0].startswith("Policy 'strict' (live mode)")
        prefs = served.service.runtime.store.prefs
        assert prefs.is_opted_out("matrix", world.space, member.user_id)


async def test_why_in_reply_to_a_notice_explains_it_and_a_reaction_is_feedback(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    bot = cast.bot.user_id
    async with serving(config(tmp_path, server, world), cast.bot.token) as served:
        root, _ = await pile_on(world)
        await served.settle(cast.mod, *cast.members.values())
        timeline = await cast.mod.timeline(world.room)
        notice = next(n for n in notices(timeline, bot) if "!longform why" in n["content"]["body"])
        asker = cast.members["nurse_priya"]
        why = await asker.say(world.room, "!longform why", reply_to=notice["event_id"], thread=root)
        await asker.react(world.room, notice["event_id"], "👍")
        await served.settle(asker)
        [explained] = answers(await cast.mod.timeline(world.room), bot, why)
        assert "Longform never removes anything" in explained
        refused = await asker.react(world.room, notice["event_id"], "📝")
        asked = await cast.mod.react(world.room, notice["event_id"], "📝")
        await served.settle(asker, cast.mod)
        assert answers(await cast.mod.timeline(world.room), bot, refused) == [
            "Only moderators can open a long-form room from a notice."
        ]
        assert not answers(await cast.mod.timeline(world.room), bot, asked)
        # A moderator's request is keyed by the notice reacted to (bot.core.requests), as on
        # Discord and Telegram: it is carried out even though Longform had opened a room already.
        opened = [r for r in served.outbox() if r.kind == "open_longform_space"]
        assert [r.outcome for r in opened] == ["sent", "sent"]
        feedback = served.service.runtime.store.feedback
        await eventually(
            lambda: bool(feedback.feedback_counts()), within=10, what="the 👍 recorded"
        )
        assert list(feedback.feedback_counts().values()) == [(1, 0)]


async def test_with_consent_first_the_offer_opens_a_room_when_a_participant_reacts(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    bot = cast.bot.user_id
    policy = tmp_path / "consent.toml"  # the strict policy, asking consent first
    policy.write_text((POLICIES / "strict.toml").read_text() + "\n[longform]\nask_consent = true\n")
    cfg = config(tmp_path, server, world, policy=str(policy))
    async with serving(cfg, cast.bot.token) as served:
        await pile_on(world)
        await served.settle(cast.mod, *cast.members.values())
        [offered] = [r for r in served.outbox() if r.kind == "open_longform_space"]
        [offered_entry] = [e for e in served.audit("open_longform_space") if e.outcome == "sent"]
        assert offered_entry.detail == "offered; opens when a participant accepts"
        timeline = await cast.mod.timeline(world.room)
        [offer] = [
            n for n in notices(timeline, bot) if "react 📝 to accept" in n["content"]["body"]
        ]
        offer_decision = decode(offered.payload)
        assert isinstance(offer_decision, OpenLongformSpace)
        authors = served.adapter.roster.authors
        accepting = {authors.get(m) for m in offer_decision.key_messages} - {None}
        accepting |= set(offer_decision.participants)
        # The slow mode's emulation makes the heated authors read-only, reactions too: the
        # participant accepts once it is lifted.
        await lift_slow_mode(served)
        [member] = [m for m in cast.members.values() if m.user_id in accepting][:1]
        outsider = await server.register(f"outsider{world.room[1:8].lower()}")
        await server.exempt(outsider.user_id)
        await outsider.join(world.room)
        refused = await outsider.react(world.room, offer["event_id"], "📝")
        await member.react(world.room, offer["event_id"], "📝")
        await served.settle(member, outsider)
        assert answers(await cast.mod.timeline(world.room), bot, refused) == [
            "Only the people in this conversation can accept the offer."
        ]
        opened = [
            e for e in served.audit("open_longform_space") if e.detail.startswith("long form")
        ]
        [venue] = [e.detail.split()[2] for e in opened]
        child = await cast.mod.state(world.space, "m.space.child", venue)
        assert child["via"] == ["localhost"]


async def test_edits_redactions_and_joins_reach_the_runtime_and_the_bot_ignores_itself(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    amara, okafor = cast.members["dr_amara"], cast.members["dr_okafor"]
    async with serving(config(tmp_path, server, world), cast.bot.token) as served:
        first = await amara.say(world.room, "Is anyone seeing more RSV this week?")
        reply = await okafor.say(world.room, f"Yes, {amara.user_id}, twice as many", reply_to=first,
                                 mentions=(amara.user_id,))  # fmt: skip
        await served.settle(amara, okafor)  # seen before the redaction strips it
        await amara.edit(world.room, first, "Is anyone seeing more RSV in toddlers this week?")
        await okafor.redact(world.room, reply)
        newcomer = await server.register(f"newcomer{len(served.events)}{world.room[1:6]}")
        await server.exempt(newcomer.user_id)
        await newcomer.join(world.room)
        await newcomer.say(world.room, "Hello all")
        await served.settle(amara, okafor, newcomer)
    posted = [e for e in served.events if isinstance(e, MessagePosted)]
    assert [p.id for p in posted] == [first, reply, newcomer.sent[-1]]
    assert posted[1].reply_to == first
    assert posted[1].reply_to_author == amara.user_id
    assert posted[1].mentions == (amara.user_id,)
    assert posted[2].author_joined_at is not None
    [edited] = [e for e in served.events if isinstance(e, MessageEdited)]
    assert (edited.id, edited.text) == (first, "Is anyone seeing more RSV in toddlers this week?")
    assert [e.id for e in served.events if isinstance(e, MessageDeleted)] == [reply]
    assert [e.user for e in served.events if isinstance(e, MemberJoined)] == [newcomer.user_id]
    assert all(getattr(e, "author", "") != cast.bot.user_id for e in served.events)


async def test_a_restart_resumes_where_it_stopped(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    amara = cast.members["dr_amara"]
    cfg = config(tmp_path, server, world)
    async with serving(cfg, cast.bot.token) as served:
        before = await amara.say(world.room, "Before the restart")
        await served.settle(amara)
    amara.sent.clear()  # the restarted bot is to see what came after
    while_down = await amara.say(world.room, "While Longform was down")
    async with serving(cfg, cast.bot.token) as again:
        after = await amara.say(world.room, "After the restart")
        await again.settle(amara)
    assert [e.id for e in served.events if isinstance(e, MessagePosted)] == [before]
    assert [e.id for e in again.events if isinstance(e, MessagePosted)] == [while_down, after]


async def test_a_real_rate_limit_is_retried_after_the_servers_retry_after(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    await server.exempt(cast.bot.user_id, per_second=1, burst=3)  # a 429 after a burst of 3
    try:
        patient = {"retry_seconds": 0.05, "max_attempts": 40}  # a dozen actions at 1/s
        async with serving(config(tmp_path, server, world, outbox=patient),
                           cast.bot.token) as served:  # fmt: skip
            await pile_on(world)
            await served.settle(cast.mod, *cast.members.values(), within=180)
            limited = [r for r in served.outbox() if r.attempts > 1]
    finally:
        await server.exempt(cast.bot.user_id)
    assert limited, "the homeserver never answered 429 (the bot's limit: 1/s, burst 3)"
    assert all(r.outcome in ("sent", "downgraded") for r in served.outbox())
    problems = [e.detail for e in served.audit() if "M_LIMIT_EXCEEDED" in e.detail]
    assert not problems, "a 429 was recorded as the outcome instead of being retried"


async def test_an_encrypted_room_is_reported_at_start_up_and_left_out(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, cast = homeserver
    secret = await cast.mod.create_room("Secret", invite=(cast.bot.user_id,), initial_state=[
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])  # fmt: skip
    community = world.community() | {"channels": [world.room, secret]}
    async with serving(config(tmp_path, server, world, communities=[community]),
                       cast.bot.token) as served:  # fmt: skip
        assert served.adapter.encrypted == [secret]
        assert secret not in served.adapter.roster.rooms
    said = texts(await cast.mod.timeline(world.mods), cast.bot.user_id)
    assert any(secret in t and "end-to-end encrypted" in t for t in said)


async def test_a_bad_token_stops_start_up_with_the_fix(
    homeserver: tuple[Synapse, Cast], world: World, tmp_path: Path
) -> None:
    server, _ = homeserver
    with pytest.raises(StartupError, match="refused the access token"):
        async with serving(config(tmp_path, server, world), "not-a-token"):
            pass
