"""Asking for a dashboard link in chat: `/longform dashboard` (Discord), `/dashboard` (Telegram),
through the real service and platform libraries against the fakes. Only moderators get a link,
privately; it opens a session scoped to the communities they moderate, and a GET of the
dashboard (in the same process) answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.runtime.app import build_service
from bot.runtime.control import Control, ControlError
from bot.runtime.service import utc_now
from tests.discord_support import add_members, answer, build, discord_config, running
from tests.fakes.discord_server import FakeDiscordServer, Ids
from tests.fakes.telegram_server import FakeTelegramServer
from tests.runtime_support import service_config
from tests.telegram_support import FORUM, MOD, USERS, config, serving, setup_forum
from tests.telegram_support import free_port as telegram_free_port

pytest_plugins = ("tests.fakes.discord_fixtures", "tests.fakes.telegram_fixtures")
LINK = re.compile(r"(http://127\.0\.0\.1:\d+)/signin\?token=([\w-]+)")


def dashboard_section() -> dict[str, Any]:
    return {"enabled": True, "listen": "127.0.0.1", "port": telegram_free_port()}


async def open_link(base: str, token: str) -> tuple[int, str]:
    """Open the sign-in page, as a browser would, against the dashboard the service runs."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/signin?token={token}") as page:
        return page.status, await page.text()


async def test_discord_moderators_get_a_private_link_and_members_nothing(
    discord_server: FakeDiscordServer, tmp_path: Path
) -> None:
    server = discord_server
    add_members(server)
    cfg = discord_config(tmp_path, server, dashboard=dashboard_section())
    async with running(build(cfg, server), server) as live:
        moderator = await server.run_command(Ids.GENERAL, Ids.DANA, "longform dashboard")
        member = await server.run_command(Ids.GENERAL, Ids.BEN, "longform dashboard")
        given = await server.wait_for(lambda: answer(server, moderator))
        refused = await server.wait_for(lambda: answer(server, member))
        assert given.ephemeral
        assert refused.ephemeral
        assert refused.content == "This command needs the Manage Messages permission."
        assert "signin" not in refused.content
        found = LINK.search(given.content)
        assert found is not None, given.content
        assert f"<{found[0]}>" in given.content  # no link preview
        status, page = await open_link(found[1], found[2])
        assert status == 200
        assert 'id="signin"' in page
        started = live.store.signins.redeem(found[2], now=utc_now())
        assert started is not None
        assert started[1].moderator.communities == (f"discord:{Ids.GUILD}",)
        assert started[1].moderator.member == str(Ids.DANA)
        assert live.store.signins.redeem(found[2], now=utc_now()) is None


async def test_telegram_admins_get_the_link_in_private_only(
    telegram_server: FakeTelegramServer, tmp_path: Path
) -> None:
    server = telegram_server
    thread = setup_forum(server)
    cfg = config(tmp_path, server, dashboard=dashboard_section())
    async with serving(server, cfg) as served:
        server.user_sends(FORUM, USERS["dr_sato"], "/dashboard", thread_id=thread)
        server.user_sends(FORUM, MOD, "/dashboard", thread_id=thread)  # no private chat yet
        replies = await server.wait_for(
            lambda: len(r := server.sent_messages(FORUM, thread)) == 2 and r
        )
        assert (
            replies[0]["text"] == "Only admins of a group Longform serves can open the dashboard."
        )
        assert replies[1]["text"].startswith("I cannot write to you privately yet")
        assert not [m for m in server.sent_messages(FORUM, thread) if "signin" in m["text"]]

        server.user_sends(MOD.id, MOD, "/dashboard")  # in private: the link comes there
        links = await server.wait_for(
            lambda: [m for m in server.sent_messages(MOD.id) if "signin" in m["text"]]
        )
        assert len(links) == 1
        private = links[0]
        found = LINK.search(private["text"])
        assert found is not None, private["text"]
        *refused, call = [
            c for c in server.calls("sendMessage") if "signin" in str(c.params.get("text"))
        ]
        assert [c.status for c in refused] == [403]  # the first try, before the private chat
        assert call.params["link_preview_options"] == {"is_disabled": True}
        status, _ = await open_link(found[1], found[2])
        assert status == 200
        started = served.service.runtime.store.signins.redeem(found[2], now=utc_now())
        assert started is not None
        assert started[1].moderator.communities == (f"telegram:{FORUM}",)

        server.user_sends(FORUM, MOD, "/dashboard", thread_id=thread)  # now reachable privately
        await server.wait_for(
            lambda: len([m for m in server.sent_messages(MOD.id) if "signin" in m["text"]]) == 2
        )
        last = await server.wait_for(
            lambda: len(r := server.sent_messages(FORUM, thread)) == 3 and r
        )
        assert last[2]["text"] == "I sent you a private sign-in link to the dashboard."


async def test_no_link_when_the_dashboard_is_off_or_the_community_is_not_served(
    tmp_path: Path,
) -> None:
    off = build_service(service_config(tmp_path / "off"))
    with pytest.raises(ControlError, match=r"\[dashboard\] enabled = true"):
        await Control(off.runtime).dashboard_link("replay", "mo", ["replay:x"])
    off.runtime.store.close()
    on = build_service(service_config(tmp_path / "on", dashboard=dashboard_section()))
    with pytest.raises(ControlError, match="Only moderators of a community Longform serves"):
        await Control(on.runtime).dashboard_link("discord", "mo", ["discord:999"])
    on.runtime.store.close()
