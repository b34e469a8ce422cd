"""The leads' dashboard in headless Chromium, on the scripted week (tests/analytics/script.py):
the figures and charts the page shows are the week's known answers, a flagged conversation opens
with its transcript and can be marked reviewed, and a spike alert arrives live. The screenshot is
kept in tests/artifacts/dashboard.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from playwright.async_api import Page, expect

from analytics.store import AnalyticsStore
from bot.app import STORES_KEY, create_app
from inbox.agents import hash_password
from inbox.console import CONSOLE_KEY
from inbox.dashboard import ALERTS_TOPIC
from tests.analytics.script import PSEUDONYMS, WEEK_END, records_of, the_week
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.conftest import Serve
from tests.console.conftest import ANA, ANA_PASSWORD, BO, NluFakeRasa, PASSWORDS
from tests.gateways import settings_for

pytestmark = pytest.mark.browser
ACCOUNTS = f"{ANA}:{hash_password(ANA_PASSWORD)}:lead,{BO}:{hash_password(PASSWORDS[BO])}"


@pytest.fixture
async def dashboard_gateway(tmp_path: Path, serve: Serve) -> AsyncIterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    store = AnalyticsStore(url)
    await store.add(records_of(the_week()))
    await store.close()
    rasa = NluFakeRasa()
    settings = settings_for(rasa, await serve(rasa.app()), pending_retry_interval_s=3600.0,
                            analytics_db_url=url)
    app = create_app(settings, env={"AGENT_ACCOUNTS": ACCOUNTS})
    app[CONSOLE_KEY].analytics.clock = lambda: WEEK_END  # "the last 7 days" are the week
    async with aiohttp.ClientSession() as http:
        yield {"url": await serve(app), "app": app, "http": http}


async def open_dashboard(page: Page, gateway: dict[str, Any]) -> None:
    await sign_in(page, gateway["url"])
    await page.get_by_test_id("dashboard-link").click()
    await expect(page.locator("body")).to_have_attribute("data-loaded", "true")


def figure(page: Page, name: str) -> Any:
    return page.locator(f"#fig-{name} dd")


async def test_the_dashboard_shows_the_weeks_figures_and_charts(
        dashboard_gateway: dict[str, Any], console_page: Page) -> None:
    page = console_page
    await open_dashboard(page, dashboard_gateway)
    # Each value below is worked out in tests/analytics/test_figures.py.
    expected = {"conversations": "7", "containment": "57.1%", "escalation": "42.9%",
                "first-reply": "6.0 min", "ttr": "3.0 min", "csat": "4.50",
                "csat-response": "66.7% of 3", "csat-service": "5.00 / 4.00",
                "fallback": "20.0%", "unanswered": "1",
                "fcr": "– of 0"}  # nobody's 7-day recontact window has passed yet
    for name, value in expected.items():
        await expect(figure(page, name)).to_have_text(value)
    await expect(figure(page, "triggers")).to_have_text(
        "customer_request 2 (28.6%), repeated_fallback 1 (14.3%)")
    await expect(figure(page, "topics")).to_have_text("shipping_cost 1")
    # Charts: one bar per channel and day with the week's message counts.
    bar = page.locator('#chart-volume rect[data-series="web"][data-category="2026-11-23"]')
    await expect(bar).to_have_attribute("data-value", "3")
    await expect(page.locator('#chart-volume rect[data-series="telegram"][data-category="2026-11-24"]')
                 ).to_have_attribute("data-value", "2")
    await expect(page.locator('#chart-csat rect[data-category="4"]')).to_have_attribute("data-value", "1")
    await expect(page.locator('#chart-containment circle[data-series="containment"][data-category="2026-11-26"]')
                 ).to_have_attribute("data-value", "1")
    await expect(page.locator("#misunderstood li")).to_have_text(["asdf qwerty × 2",
                                                                  "you are useless × 1"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


async def test_a_flagged_conversation_opens_and_is_marked_reviewed(
        dashboard_gateway: dict[str, Any], console_page: Page) -> None:
    page = console_page
    await open_dashboard(page, dashboard_gateway)
    await expect(page.locator("#flagged-summary")).to_have_text("4 to review, 4 flagged in the period.")
    item = page.locator(f'#flagged li[data-conversation="{PSEUDONYMS.of("telegram:303")}"]')
    await expect(item.locator("[data-flag]")).to_have_text([
        "fallback loop: 2 messages in a row not understood",
        "customer repeated: said 1 thing(s) more than once: 'asdf qwerty'"])
    await item.get_by_role("button", name="Show the transcript").click()
    await expect(page.locator("#review-title")).to_be_focused()
    await expect(page.locator("#review-transcript li.customer")).to_have_count(2)
    await item.get_by_role("button", name="Mark reviewed").click()
    await expect(page.locator("#flagged-summary")).to_have_text("3 to review, 4 flagged in the period.")
    await expect(page.locator(f'#flagged li.reviewed[data-conversation="{PSEUDONYMS.of("telegram:303")}"]')
                 ).to_have_count(1)


async def test_a_spike_alert_appears_live(dashboard_gateway: dict[str, Any],
                                          console_page: Page) -> None:
    page = console_page
    await open_dashboard(page, dashboard_gateway)
    await page.wait_for_function("() => document.querySelector('#alerts').hidden === true")
    stores = dashboard_gateway["app"][STORES_KEY]
    # What the alert watcher publishes (tests/analytics/test_alert_watcher.py checks that part).
    await page.wait_for_timeout(200)  # the page's websocket opens after its first load
    await stores.bus.publish(ALERTS_TOPIC, {
        "signal": "intent:order_status", "count": 8, "baseline": 0.5,
        "text": "Spike: intent order_status: 8 in the last hour, against 0.5 an hour before",
        "examples": ["my order 0 is late!!"]})
    alert = page.locator('#alert-list li[data-signal="intent:order_status"]')
    await expect(alert).to_contain_text("8 in the last hour")
    await expect(alert.locator("li")).to_have_text(["my order 0 is late!!"])
