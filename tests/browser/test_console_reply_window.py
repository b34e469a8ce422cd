"""In a real headless Chromium: a WhatsApp case shows the agent until when a text reply can be
delivered, and once the 24-hour window closed the console says why and does not let them send.
The console has no WhatsApp code: it renders the channel's reply-window fact."""

from __future__ import annotations

import time
from typing import Any, AsyncIterator

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from bot.app import STORES_KEY, create_app
from bot.stores import memory_stores
from tests.conftest import Serve
from tests.console.conftest import (AGENT_ACCOUNTS, ANA, ANA_PASSWORD, HANDOFF_SECRET,
                                    NluFakeRasa, a_package)
from tests.gateways import settings_for

pytestmark = pytest.mark.browser

DAY = 24 * 3600


@pytest.fixture
async def console(serve: Serve) -> AsyncIterator[dict[str, Any]]:
    rasa = NluFakeRasa()
    settings = settings_for(rasa, await serve(rasa.app()), pending_retry_interval_s=3600.0)
    app = create_app(settings, stores=memory_stores(), env={"AGENT_ACCOUNTS": AGENT_ACCOUNTS})
    url = await serve(app)
    async with aiohttp.ClientSession() as http:
        yield {"url": url, "app": app, "http": http}


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    await context.close()
    assert not errors, f"JavaScript errors on the console page: {errors}"


async def whatsapp_case(console: dict[str, Any], number: str, *, last_wrote: float) -> str:
    conversation_id = f"whatsapp:{number}"
    await console["app"][STORES_KEY].conversations.update(
        conversation_id, channel="whatsapp", customer_id=number, last_seen=last_wrote)
    package = {**a_package(conversation_id), "channel": "whatsapp"}
    async with console["http"].post(f"{console['url']}/handoff/v1/cases", json=package,
                                    headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["case_id"])


async def open_and_claim(page: Page, console: dict[str, Any], case_id: str) -> None:
    await page.goto(console["url"] + "/console/")
    await page.get_by_test_id("login-email").fill(ANA)
    await page.get_by_test_id("login-password").fill(ANA_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.locator(f'[data-testid="queue-item"][data-case-id="{case_id}"]').click()
    await expect(page.get_by_test_id("case-id")).to_have_text(case_id)
    await page.get_by_test_id("claim-button").click()
    await expect(page.get_by_test_id("claim-button")).to_be_hidden()


async def test_an_open_window_says_until_when_and_lets_the_agent_reply(
        console: dict[str, Any], page: Page) -> None:
    case_id = await whatsapp_case(console, "+447700900123", last_wrote=time.time() - 3600)
    await open_and_claim(page, console, case_id)
    note = page.get_by_test_id("composer-note")
    await expect(note).to_have_attribute("data-reply-window", "open")
    await expect(note).to_contain_text("Text replies possible until")
    await expect(note).to_contain_text("24 h after the customer's last message")
    await page.get_by_test_id("reply-input").fill("Your refund is through.")
    await expect(page.get_by_test_id("send-button")).to_be_enabled()


async def test_a_closed_window_is_said_before_the_agent_claims(console: dict[str, Any],
                                                               page: Page) -> None:
    case_id = await whatsapp_case(console, "+447700900111", last_wrote=time.time() - DAY - 60)
    await page.goto(console["url"] + "/console/")
    await page.get_by_test_id("login-email").fill(ANA)
    await page.get_by_test_id("login-password").fill(ANA_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.locator(f'[data-testid="queue-item"][data-case-id="{case_id}"]').click()
    await expect(page.get_by_test_id("composer-note")).to_have_attribute("data-reply-window",
                                                                         "closed")


async def test_a_closed_window_says_why_and_the_reply_cannot_be_sent(
        console: dict[str, Any], page: Page) -> None:
    case_id = await whatsapp_case(console, "+447700900456", last_wrote=time.time() - DAY - 60)
    await open_and_claim(page, console, case_id)
    note = page.get_by_test_id("composer-note")
    await expect(note).to_have_attribute("data-reply-window", "closed")
    await expect(note).to_contain_text("Text replies can no longer be delivered: WhatsApp allows "
                                       "them only 24 h after the customer's last message.")
    await expect(page.get_by_test_id("reply-input")).to_be_disabled()
    await expect(page.get_by_test_id("send-button")).to_be_disabled()
    await expect(page.get_by_test_id("reply-form")).to_have_attribute("data-disabled", "true")


async def test_the_window_closing_while_the_case_is_open_is_shown_without_a_reload(
        console: dict[str, Any], page: Page) -> None:
    case_id = await whatsapp_case(console, "+447700900789", last_wrote=time.time() - DAY + 15)
    await open_and_claim(page, console, case_id)
    note = page.get_by_test_id("composer-note")
    await expect(note).to_have_attribute("data-reply-window", "open")
    await expect(note).to_have_attribute("data-reply-window", "closed", timeout=30_000)
    await expect(page.get_by_test_id("send-button")).to_be_disabled()
