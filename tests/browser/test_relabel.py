"""Correcting the bot in the console, in headless Chromium: under a customer message an agent
picks the intent it meant and whether the bot's answer was wrong; the correction is stored for
`make review`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from playwright.async_api import Page, expect

from analytics.records import Kind
from analytics.store import AnalyticsStore
from bot.app import STORES_KEY, create_app
from tests.analytics.gateway_settings import analytics_settings
from tests.browser.conftest import sign_in
from tests.browser.test_agent_console import open_case
from tests.chat_client import ChatClient
from tests.conftest import Serve
from tests.console.conftest import AGENT_ACCOUNTS, NluFakeRasa
from tests.gateways import settings_for

pytestmark = pytest.mark.browser


@pytest.fixture
async def relabel_gateway(tmp_path: Path, serve: Serve) -> AsyncIterator[dict[str, Any]]:
    rasa = NluFakeRasa()
    settings = settings_for(rasa, await serve(rasa.app()), pending_retry_interval_s=3600.0,
                            **analytics_settings(tmp_path / "a.db"))
    app = create_app(settings, env={"AGENT_ACCOUNTS": AGENT_ACCOUNTS})
    async with aiohttp.ClientSession() as http:
        yield {"url": await serve(app), "app": app, "http": http, "db": tmp_path / "a.db"}


async def test_an_agent_corrects_the_bot_under_a_customer_message(
        relabel_gateway: dict[str, Any], console_page: Page) -> None:
    gw, page = relabel_gateway, console_page
    chat = ChatClient(await gw["http"].ws_connect(f"{gw['url']}/webchat/ws"))
    await chat.hello()
    await chat.turn("my parcel came crushed")
    conversation_id = await gw["app"][STORES_KEY].sessions.get(chat.session or "")
    case_id = await open_case(gw, str(conversation_id))
    await sign_in(page, gw["url"])
    await page.locator(f'[data-testid="queue-item"][data-case-id="{case_id}"]').click()
    message = page.get_by_test_id("transcript").locator('[data-role="customer"]').first
    await expect(message).to_contain_text("my parcel came crushed")
    await message.get_by_test_id("relabel-button").click()
    await expect(message.get_by_test_id("relabel-intent")).to_be_focused()
    await message.get_by_test_id("relabel-intent").select_option("complaint")
    await message.get_by_test_id("relabel-wrong").check()
    await message.get_by_role("button", name="Save").click()
    await expect(message.get_by_test_id("relabel-done")).to_have_text(
        "Marked as complaint (wrong answer)")
    store = AnalyticsStore(f"sqlite:///{gw['db']}")
    try:
        (label,) = [r for r in await store.records() if r.kind is Kind.RELABELLED]
    finally:
        await store.close()
    assert (label.intent, label.text, label.action) == ("complaint", "my parcel came crushed",
                                                       "wrong_answer")
