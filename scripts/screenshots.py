"""Screenshots of the dashboard's main pages, from the demo conversations.

    python scripts/screenshots.py [--out docs/dashboard] [--chromium /usr/bin/chromium]

Replays the bundled demo conversations into a scratch database (one community in shadow mode),
serves the dashboard on 127.0.0.1, signs in with a one-time link in headless Chromium (Debian's
``chromium`` package, driven by Playwright) and writes one PNG per page. Regenerate them whenever
the pages change; the README links them.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Config
from bot.dashboard.demo import community_id, seed
from bot.dashboard.server import DashboardServer
from bot.policy.loader import load_policy
from bot.storage.store import Store

CLINICIANS = community_id("clinicians-hub")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_config(database: str, port: int) -> Config:
    """A config serving the demo communities on the file platform, dashboard on ``port``."""
    names = {"clinicians-hub": "Clinicians Hub", "eng-guild": "Engineering Guild",
             "ml-research": "ML Research"}  # fmt: skip
    return Config.model_validate({
        "policy": "professional", "storage": {"url": database},
        "replay": {"enabled": True},
        "dashboard": {"enabled": True, "listen": "127.0.0.1", "port": port},
        "communities": [{"platform": "replay", "id": key, "name": name, "moderators": "mods",
                         "mode": "shadow" if key == "eng-guild" else "live"}
                        for key, name in names.items()],
    })  # fmt: skip


async def shoot(out: Path, chromium: str) -> list[Path]:
    """Write the screenshots into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        config = demo_config(f"sqlite:///{scratch}/demo.db", free_port())
        policy = load_policy(config.policy)
        now = datetime.now(UTC)
        with Store.open(config.storage.url) as store:
            seed(store, policy, now, frozenset({community_id("eng-guild")}))
            server = DashboardServer(config, store, lambda: {"": policy})
            await server.start()
            try:
                communities = [community_id(c.id) for c in config.communities]
                token = store.signins.issue("replay", "demo-moderator", communities, now=now,
                                            name="Demo moderator")  # fmt: skip
                return await _pages(server.url, token, out, chromium)
            finally:
                await server.stop()


async def _pages(base: str, token: str, out: Path, chromium: str) -> list[Path]:
    written = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{base}/signin?token={token}")
        await page.click("#signin")
        c = f"{base}/c/{CLINICIANS}"
        shots = {
            "overview": f"{c}/",
            "audit": f"{c}/audit?signal=pile_on",
            "feedback": f"{c}/feedback",
        }
        for name, url in shots.items():
            await page.goto(url)
            written.append(await _shot(page, out / f"{name}.png"))
        await page.goto(f"{c}/audit?signal=pile_on&kind=post_notice")
        await page.click("table.audit tbody tr:first-child td:nth-child(6) a")
        written.append(await _shot(page, out / "thread.png"))
        await page.goto(f"{c}/policy")
        await page.select_option("#compare-preset", "strict")
        await page.click("#compare")
        written.append(await _shot(page, out / "policy.png"))
        await browser.close()
    return written


async def _shot(page: object, path: Path) -> Path:
    await page.screenshot(path=str(path), full_page=False)  # type: ignore[attr-defined]
    # 256 colours are plenty for these pages and keep the committed files small.
    with Image.open(path) as image:
        image.convert("RGB").quantize(256).save(path, optimize=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    for path in asyncio.run(shoot(args.out, args.chromium)):
        print(path)


if __name__ == "__main__":
    main()
