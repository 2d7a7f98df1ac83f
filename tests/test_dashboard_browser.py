"""The dashboard in a real headless browser: Debian's Chromium driven by Playwright.

Sign in by link, the overview's plots rendered, a thread's timeline and reply graph, filtering the
audit log, marking a decision wrong, and the policy comparison. `make test` installs Chromium
(apt-get); where it cannot be found these tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.policy.loader import load_policy
from bot.storage.store import Store
from tests.dashboard_support import NOW, SECRET_TEXT, A, Clock, config, fill
from tests.telegram_support import free_port

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright is not installed: pip install -e '.[dev]'"
)
CHROMIUM = os.environ.get("LONGFORM_CHROMIUM") or shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium: `apt-get install chromium` (make test does it) or set LONGFORM_CHROMIUM",
)


@dataclass
class Browsing:
    """A served dashboard and a browser page signed out."""

    base: str
    store: Store
    page: Any
    token: str


@pytest_asyncio.fixture
async def browsing(tmp_path: Path) -> AsyncIterator[Browsing]:
    from bot.dashboard.server import DashboardServer

    cfg = config(tmp_path, listen="127.0.0.1", port=free_port())
    store = Store.open(cfg.storage.url)
    fill(store)
    policy = load_policy("professional")
    server = DashboardServer(cfg, store, lambda: {"": policy}, Clock(NOW))
    await server.start()
    token = store.signins.issue("discord", "mo", [A], now=NOW, name="Mo")
    try:
        async with playwright_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = await browser.new_page()
            try:
                yield Browsing(server.url, store, page, token)
            finally:
                await browser.close()
    finally:
        await server.stop()
        store.close()


async def sign_in(b: Browsing) -> None:
    await b.page.goto(f"{b.base}/signin?token={b.token}")
    await b.page.click("#signin")
    await b.page.wait_for_url(f"**/c/{A}/")


async def rendered(page: Any, selector: str) -> list[int]:
    """The natural widths of the images matching ``selector`` (0: not rendered)."""
    widths: list[int] = await page.eval_on_selector_all(
        selector, "images => images.map(i => i.complete ? i.naturalWidth : 0)"
    )
    return widths


async def test_sign_in_by_link_shows_the_overview_with_its_plots(browsing: Browsing) -> None:
    page = browsing.page
    await page.goto(f"{browsing.base}/c/{A}/")
    assert "Sign in first" in await page.text_content("main")
    await sign_in(browsing)
    assert await page.text_content("h1") == "Clinicians"
    widths = await rendered(page, "img.plot")
    assert len(widths) == 4
    assert all(width > 300 for width in widths)
    assert await page.text_content("strong.mode") == "live"
    await page.goto(f"{browsing.base}/signin?token={browsing.token}")
    await page.click("#signin")
    assert "already used" in await page.text_content("main")


async def test_a_thread_shows_its_timeline_and_reply_graph(browsing: Browsing) -> None:
    page = browsing.page
    await sign_in(browsing)
    await page.click("nav.pages >> text=Audit log")
    await page.click("table.audit tbody tr:first-child td:nth-child(6) a")
    await page.wait_for_selector("#reply-graph")
    assert (await rendered(page, "#heat-plot"))[0] > 300
    assert (await rendered(page, "#reply-graph"))[0] > 200
    assert "Target: ana" in await page.text_content("main")
    assert SECRET_TEXT in await page.text_content("table.evidence")


async def test_filtering_the_audit_log(browsing: Browsing) -> None:
    page = browsing.page
    await sign_in(browsing)
    await page.goto(f"{browsing.base}/c/{A}/audit")
    assert await page.locator("table.audit tbody tr").count() == 3
    await page.select_option("#filter-outcome", "suppressed_shadow")
    await page.click("#apply-filters")
    await page.wait_for_url("**outcome=suppressed_shadow**")
    rows = page.locator("table.audit tbody tr")
    assert await rows.count() == 1
    assert "prompt_member" in await rows.first.text_content()
    await page.fill("#filter-member", "nobody")
    await page.click("#apply-filters")
    assert "No audit rows match." in await page.text_content("table.audit")


async def test_marking_a_decision_wrong(browsing: Browsing) -> None:
    page = browsing.page
    await sign_in(browsing)
    await page.click("nav.pages >> text=Feedback")
    first = page.locator("table.audit tbody tr").first
    await first.locator("button[value=wrong]").click()
    await page.wait_for_selector("#saved")
    assert "wrong" in await page.locator("table.audit tbody tr").first.text_content()
    assert browsing.store.feedback.feedback_counts(A) == {"pile_on": (0, 1)}


async def test_comparing_the_policy_with_a_preset(browsing: Browsing) -> None:
    page = browsing.page
    await sign_in(browsing)
    await page.click("nav.pages >> text=Policy")
    await page.select_option("#compare-preset", "strict")
    await page.fill("input[name=days]", "3")
    await page.click("#compare")
    await page.wait_for_selector("#comparison")
    summary = await page.text_content("#comparison p")
    assert "strict would have made" in " ".join(summary.split())
    assert "retained messages of the last 3 days" in summary
