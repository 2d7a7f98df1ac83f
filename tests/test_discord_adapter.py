"""The Discord adapter end to end: the real discord.py client, wired to the real service (SQLite,
outbox, scheduler), against the fake Discord gateway and REST API on 127.0.0.1. Any ERROR that
discord.py logs fails the test (the `discord_server` fixture checks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from adapters.discord import backfill
from adapters.discord.app import DiscordStartupError
from bot.core.events import LongformOpened
from bot.policy.loader import load_policy
from bot.runtime import jobs
from bot.scoring.embedded import EmbeddedScorer
from tests.discord_support import (
    EVE,
    FINN,
    OWNER,
    Running,
    add_members,
    answer,
    build,
    buttons,
    discord_config,
    pile_on,
    running,
)
from tests.fakes.discord_gateway import GUILD_MEMBERS, GUILD_PRESENCES
from tests.fakes.discord_server import FakeDiscordServer, Ids
from tests.waiting import eventually

pytest_plugins = ("tests.fakes.discord_fixtures",)

FORUM_POST_PATH = f"/channels/{Ids.FORUM}/threads"


def outcomes(live: Running) -> list[tuple[str, str]]:
    """(kind, outcome) of every audit line."""
    return [(e.kind, e.outcome) for e in live.store.audit.entries()]


async def test_a_pile_on_becomes_notice_dm_slow_mode_forum_post_and_alert(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    async with running(build(discord_config(tmp_path, server), server), server) as live:
        ids = await pile_on(server)
        await server.wait_for(lambda: server.sent_messages(Ids.MOD_ALERTS))
        await live.settle()

        (notice,) = [m for m in server.sent_messages(Ids.THREAD) if m["components"]]
        (link,) = [m for m in server.sent_messages(Ids.THREAD) if not m["components"]]
        assert notice["content"].startswith("A lot of replies are arriving at once here.")
        assert "Ana" not in notice["content"]  # a public notice does not name the target
        assert list(buttons(notice)) == [
            "Continue in long form", "Why am I seeing this?", "This wasn't helpful"
        ]  # fmt: skip
        assert notice["mentions"] == []  # nobody is pinged by a notice
        assert live.store.messages.get("discord", notice["id"]) is None  # its own echo is ignored
        (dm,) = server.dms(Ids.ANA)
        assert dm["content"].startswith("Hi Ana, 3 people have replied to you")
        assert server.channel(Ids.THREAD).rate_limit_per_user == 120
        (post,) = server.forum_posts(Ids.FORUM)
        assert post["name"] == "Long form: case-review"
        assert (post["rate_limit_per_user"], post["applied_tags"]) == (
            600,
            [str(Ids.TAG_DISCUSSION)],
        )
        starter = post["message"]["content"]
        assert "**My claim**" in starter
        assert "> Typical GP, no idea what walks into ED two days later." in starter
        assert f"/{Ids.THREAD}/{ids[3]}" in starter  # a link to each key message
        assert {int(m["id"]) for m in post["message"]["mentions"]} == {Ids.ANA, Ids.BEN, EVE, FINN}
        assert post["id"] in link["content"]  # the original thread links the post
        # The pile-on has its own alert, apart from the personal attacks' (strict policy).
        (alert,) = [m for m in server.sent_messages(Ids.MOD_ALERTS) if "Pile-on" in m["content"]]
        assert f"/{Ids.THREAD}/{ids[1]})" in alert["content"]  # evidence links
        assert list(buttons(alert)) == [
            "Acknowledge", "Mark wrong", "Open long form", "Set slow mode", "Undo"
        ]  # fmt: skip
        assert {o for _, o in outcomes(live)} == {"decided", "sent"}

        slowed = next(e for e in live.store.audit.entries() if e.kind == "set_slow_mode")
        lift_at = datetime.now(UTC).isoformat()  # the scheduler's job, called at its time
        await jobs.lift_slow_mode(slowed.community, slowed.channel, slowed.thread,
                                  slowed.message_id, slowed.signal, lift_at)  # fmt: skip
        await live.settle()
        assert server.channel(Ids.THREAD).rate_limit_per_user == 0

        # Ana moves to the forum post and writes there: the engine counts it (issue 17).
        moved = await server.send_message(
            Ids.FORUM, Ids.ANA, "My claim: a swab first.", thread=int(post["id"])
        )

        def seen() -> bool:
            return any(
                getattr(j.entry, "id", None) == moved["id"] for j in live.store.journal.since(0)
            )

        await eventually(
            seen, within=10, what="Ana's message in the forum post reaching the engine"
        )
        await live.settle()
        journal = [j.entry for j in live.store.journal.since(0)]
        [opened] = [e for e in journal if isinstance(e, LongformOpened)]
        assert opened.venue.thread == post["id"]
        await live.service.runtime.tick(datetime.now(UTC) + timedelta(hours=3))
        [space] = [o for o in live.store.outcomes.read() if o.action == "open_longform_space"]
        assert space.measures["moved"] == 1.0


async def test_buttons_explain_record_feedback_and_find_the_open_space(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    async with running(build(discord_config(tmp_path, server), server), server) as live:
        ids = await pile_on(server)
        await server.wait_for(lambda: len(server.sent_messages(Ids.THREAD)) == 2)
        await live.settle()
        (notice,) = [m for m in server.sent_messages(Ids.THREAD) if m["components"]]
        custom = buttons(notice)

        clicks = [
            await server.click_button(int(notice["id"]), custom[label], user)
            for label, user in (("Why am I seeing this?", Ids.CLEO),
                                ("This wasn't helpful", Ids.CLEO),
                                ("Continue in long form", Ids.BEN))
        ]  # fmt: skip
        why, unhelpful, longform = [
            await server.wait_for(lambda i=i: answer(server, i)) for i in clicks
        ]
        assert all(r.ephemeral for r in (why, unhelpful, longform))
        assert "3 different members replied to a member" in why.content  # members see no names
        assert f"https://discord.com/channels/{Ids.GUILD}/{Ids.THREAD}/" in why.content
        assert live.store.feedback.feedback_counts()["pile_on"] == (0, 1)
        post_id = server.forum_posts(Ids.FORUM)[0]["id"]
        assert post_id in longform.content  # already open: no second post
        assert len(server.forum_posts(Ids.FORUM)) == 1

        link = f"https://discord.com/channels/{Ids.GUILD}/{Ids.THREAD}/{ids[3]}"
        asked = await server.run_command(Ids.THREAD, Ids.CLEO, "longform why", message=link)
        unknown = await server.run_command(
            Ids.THREAD, Ids.CLEO, "longform why", message=str(ids[0])
        )
        why_command = await server.wait_for(lambda: answer(server, asked))
        assert (
            "3 different members replied to a member" in why_command.content
        )  # members see no names
        assert f"/{Ids.THREAD}/{ids[3]})" in why_command.content  # the message it acted on
        not_acted = await server.wait_for(lambda: answer(server, unknown))
        assert not_acted.content == "Longform did not act on that message."


async def test_moderator_buttons_are_for_moderators_and_undo_lifts_and_removes(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    async with running(build(discord_config(tmp_path, server), server), server) as live:
        await pile_on(server)
        await server.wait_for(lambda: server.sent_messages(Ids.MOD_ALERTS))
        await live.settle()
        (alert,) = [m for m in server.sent_messages(Ids.MOD_ALERTS) if "Pile-on" in m["content"]]
        custom = buttons(alert)

        by_ben = await server.click_button(int(alert["id"]), custom["Undo"], Ids.BEN)
        refused = await server.wait_for(lambda: answer(server, by_ben))
        alert_id = int(alert["id"])

        async def click(label: str, line: str) -> None:
            await server.click_button(alert_id, custom[label], Ids.DANA)
            await server.wait_for(lambda: line in server.message(alert_id)["content"])
            await live.settle()

        await click("Acknowledge", "Acknowledged by Dana.")
        await click("Mark wrong", "Marked wrong by Dana; recorded as feedback.")
        await click("Undo", "Undone by Dana: slow mode lifted, 1 notice(s) removed.")
        assert server.channel(Ids.THREAD).rate_limit_per_user == 0
        assert [m for m in server.sent_messages(Ids.THREAD) if m["components"]] == []
        await click("Set slow mode", "Slow mode (120 s for 30 min) set by Dana.")
        await click("Open long form", "Long-form space requested by Dana.")

        assert (refused.ephemeral, refused.content) == (
            True,
            "Only moderators can use this button.",
        )
        assert server.channel(Ids.THREAD).rate_limit_per_user == 120
        assert len(server.forum_posts(Ids.FORUM)) == 1  # the space was already open
        assert live.store.feedback.feedback_counts()["pile_on"] == (0, 1)
        assert ("alert_moderators", "undone") in outcomes(live)


async def test_buttons_keep_working_after_a_restart(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    config = discord_config(tmp_path, server)
    async with running(build(config, server), server) as live:
        await pile_on(server)
        await server.wait_for(lambda: server.sent_messages(Ids.MOD_ALERTS))
        await live.settle()
    (notice,) = [m for m in server.sent_messages(Ids.THREAD) if m["components"]]

    async with running(build(config, server), server):
        clicked = await server.click_button(
            int(notice["id"]), buttons(notice)["Why am I seeing this?"], Ids.BEN
        )
        why = await server.wait_for(lambda: answer(server, clicked))

    assert why.content.startswith("3 different members replied to a member")


async def test_slash_commands_check_permissions_and_reach_the_service(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    async with running(build(discord_config(tmp_path, server), server), server) as live:
        runs = [
            await server.run_command(Ids.GENERAL, Ids.DANA, "longform mode", mode="shadow"),
            await server.run_command(Ids.GENERAL, OWNER, "longform mode", mode="shadow"),
        ]
        await server.wait_for(lambda: answer(server, runs[1]))
        runs += [
            await server.run_command(Ids.GENERAL, Ids.DANA, "longform status"),
            await server.run_command(Ids.GENERAL, Ids.DANA, "longform policy", action="show"),
            await server.run_command(Ids.GENERAL, Ids.BEN, "longform optout"),
            await server.run_command(Ids.THREAD, Ids.DANA, "longform move"),
            await server.run_command(Ids.GENERAL, OWNER, "longform policy", action="reload"),
        ]
        answers = [await server.wait_for(lambda i=i: answer(server, i)) for i in runs]
        await server.wait_for(lambda: server.forum_posts(Ids.FORUM))

        refused, mode, status, policy, optout, move, reload = (a.content for a in answers)
        assert all(a.ephemeral for a in answers)
        assert refused == "This command needs the Manage Server permission."
        assert mode == "Longform is now in shadow mode here."
        assert live.service.runtime.modes == {f"discord:{Ids.GUILD}": "shadow"}
        assert status.startswith("Longform is in shadow mode with the 'discord-test' policy.")
        assert policy.startswith("Policy 'discord-test' (shadow mode)")
        assert optout.startswith("Done: Longform will send you no more private notes")
        assert live.store.prefs.is_opted_out("discord", str(Ids.GUILD), str(Ids.BEN))
        assert move.startswith("Opening a long-form space")
        assert reload.startswith("Policy reloaded. Policy 'discord-test'")
        assert server.forum_posts(Ids.FORUM)[0]["name"] == "Long form: case-review"
        post = int(server.forum_posts(Ids.FORUM)[0]["id"])
        community = f"discord:{Ids.GUILD}"
        reminded = await live.adapter.remind_longform(community, str(post), "Time to sum up?")
        digest = await live.adapter.post_to_moderators(community, "\n".join(["line " * 300] * 3))
        assert reminded.status == digest.status == "sent"
        assert server.sent_messages(post)[-1]["content"] == "Time to sum up?"
        assert len(server.sent_messages(Ids.MOD_ALERTS)) == 3  # the digest, in parts
        commands = server.requests_to("PUT", f"/applications/*/guilds/{Ids.GUILD}/commands")[0]
        assert {o["name"] for o in commands.json[0]["options"]} == {
            "status", "mode", "policy", "move", "why", "optout", "dashboard"
        }  # fmt: skip


async def test_closed_dms_fall_back_to_a_neutral_notice_only_that_member_can_open(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    async with running(build(discord_config(tmp_path, server), server), server) as live:
        claim = await server.send_message(
            Ids.GENERAL, Ids.CLEO, "Viral coughs need no antibiotics."
        )
        for author in (Ids.BEN, EVE, FINN):
            await server.send_message(
                Ids.GENERAL, author, "Typical GP, no idea.", reply_to=int(claim["id"])
            )
        await server.wait_for(lambda: server.sent_messages(Ids.MOD_ALERTS))
        await live.settle()
        (note,) = [m for m in server.sent_messages(Ids.GENERAL) if "Show my note" in buttons(m)]
        show = buttons(note)["Show my note"]
        clicks = [
            await server.click_button(int(note["id"]), show, user) for user in (Ids.BEN, Ids.CLEO)
        ]
        to_ben, to_cleo = [await server.wait_for(lambda i=i: answer(server, i)) for i in clicks]

        assert "cleo" not in note["content"].lower()
        assert str(Ids.CLEO) not in note["content"]
        assert to_ben.content == "This note is for another member; nothing is needed from you."
        assert to_cleo.ephemeral
        assert to_cleo.content.startswith("Hi Cleo, 3 people have replied")
        assert ("prompt_member", "downgraded") in outcomes(live)
        assert [
            r.status for r in server.requests_to("POST", "/channels/*/messages") if r.status >= 400
        ] == [403]


async def test_a_403_becomes_a_moderator_alert_naming_the_missing_permission(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    server.fail_next("PATCH", f"/channels/{Ids.THREAD}", 403)
    async with running(build(discord_config(tmp_path, server), server), server) as live:
        await pile_on(server)
        await server.wait_for(lambda: any(
            m["content"].startswith("**Longform could not set slow mode**")
            for m in server.sent_messages(Ids.MOD_ALERTS)))  # fmt: skip
        await live.settle()

        contents = [m["content"] for m in server.sent_messages(Ids.MOD_ALERTS)]
        (downgraded,) = [
            c for c in contents if c.startswith("**Longform could not set slow mode**")
        ]
        assert "**Manage Threads**" in downgraded
        assert server.channel(Ids.THREAD).rate_limit_per_user == 0
        assert ("set_slow_mode", "downgraded") in outcomes(live)


async def test_a_rate_limited_notice_is_sent_once_after_retry_after(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    server.fail_next("POST", f"/channels/{Ids.THREAD}/messages", 429, retry_after=0.05)
    async with running(build(discord_config(tmp_path, server), server), server) as live:
        await pile_on(server)
        await server.wait_for(lambda: len(server.sent_messages(Ids.THREAD)) == 2)
        await live.settle()

        statuses = [
            r.status for r in server.requests_to("POST", f"/channels/{Ids.THREAD}/messages")
        ]
        assert sorted(statuses) == [200, 200, 429]  # one retried by discord.py, and no double
        assert len([m for m in server.sent_messages(Ids.THREAD) if m["components"]]) == 1
        assert {o for _, o in outcomes(live)} == {"decided", "sent"}


async def test_a_dropped_connection_resumes_and_edits_deletes_and_joins_still_arrive(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    async with running(build(discord_config(tmp_path, server), server), server) as live:
        await server.drop_connection()
        sent = await server.send_message(Ids.GENERAL, Ids.ANA, "sent while the socket was down")
        kept = await server.send_message(Ids.GENERAL, Ids.BEN, "this one stays")
        await server.member_join(1300000000000000999, "newcomer")
        await server.wait_for(lambda: live.store.messages.get("discord", kept["id"]))
        await server.delete_message(int(sent["id"]))
        await server.edit_message(int(kept["id"]), "this one stays, edited")
        await server.send_message(Ids.GENERAL, Ids.BEN, "a last message")
        events = live.service.runtime.metrics.events  # edits and deletions carry no community
        await server.wait_for(lambda: events.labels("any", "MessageEdited")._value.get())
        await live.settle()

        assert (server.gateway.identifies, server.gateway.resumes) == (1, 1)
        assert live.store.messages.get("discord", sent["id"]).text is None  # forgotten
        assert events.labels("discord", "MemberJoined")._value.get() == 1
        assert events.labels("any", "MessageDeleted")._value.get() == 1


async def test_consent_first_opens_the_space_when_a_participant_accepts(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    config = discord_config(tmp_path, server, consent=True)
    async with running(build(config, server), server) as live:
        await pile_on(server)
        await server.wait_for(lambda: server.sent_messages(Ids.MOD_ALERTS))
        await live.settle()
        (offer,) = [
            m
            for m in server.sent_messages(Ids.THREAD)
            if "Yes, open a long-form space" in buttons(m)
        ]
        accept = buttons(offer)["Yes, open a long-form space"]
        assert server.forum_posts(Ids.FORUM) == []

        by_cleo = await server.click_button(int(offer["id"]), accept, Ids.CLEO)  # not a participant
        await server.click_button(int(offer["id"]), accept, EVE)
        await server.wait_for(lambda: server.forum_posts(Ids.FORUM))

        refused = await server.wait_for(lambda: answer(server, by_cleo))
        assert refused.content == "Only the people in this conversation can accept the offer."
        assert server.forum_posts(Ids.FORUM)[0]["name"] == "Long form: case-review"


async def test_a_missing_message_content_intent_stops_start_up_with_the_fix(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    discord_server.settings.portal_intents = GUILD_MEMBERS | GUILD_PRESENCES
    service = build(discord_config(tmp_path, discord_server), discord_server)

    with pytest.raises(DiscordStartupError, match="Message Content Intent"):
        async with running(service, discord_server):
            pass

    assert discord_server.gateway.close_codes == [4014]


async def test_backfill_replays_a_channel_and_its_threads_without_posting_anything(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    await server.send_message(Ids.GENERAL, Ids.ANA, "An older message in the channel itself.")
    ids = await pile_on(server)  # in a thread of #general
    config = discord_config(tmp_path, server)
    since = datetime.now(UTC) - timedelta(hours=1)

    report, guild = await backfill.run(config, server.token, Ids.GENERAL, since,
                                       load_policy(tmp_path / "policy.toml"), EmbeddedScorer())  # fmt: skip
    console = Console(record=True, width=200)
    backfill.render(report, guild, console)

    assert report.messages == 5
    signals = [d.signal for d in report.detections]
    assert signals.count("pile_on") == 1
    assert set(signals) <= {"pile_on", "forecast"}  # an early warning may precede it, no attack
    assert {type(a).__name__ for a in report.actions} >= {"PostNotice", "OpenLongformSpace"}
    assert f"/{Ids.THREAD}/{ids[3]}" in console.export_text()
    assert server.gateway.identifies == 0  # REST only
    assert {r.method for r in server.requests} == {"GET"}  # nothing posted or changed


def test_backfill_without_a_token_says_which_variable_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LONGFORM_DISCORD_TOKEN", raising=False)
    (tmp_path / "config.toml").write_text("[discord]\nenabled = false\n")
    cli = typer.Typer()
    cli.command()(backfill.backfill)

    result = CliRunner().invoke(cli, ["--discord", "123", "--since", "2026-03-01",
                                      "--config", str(tmp_path / "config.toml")])  # fmt: skip

    assert result.exit_code == 2
    assert "export LONGFORM_DISCORD_TOKEN" in result.output
