"""In a real headless Chromium: a WhatsApp case shows the agent until when a text reply can be
delivered, and once the 24-hour window closed the console says why and does not let them send.
The console has no WhatsApp code: it renders the channel's reply-window fact."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.async_api import Page, expect

from bot.app import STORES_KEY
from tests.browser.conftest import sign_in
from tests.console.conftest import HANDOFF_SECRET, a_package

pytestmark = pytest.mark.browser

DAY = 24 * 3600


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
    await sign_in(page, console["url"])
    await page.locator(f'[data-testid="queue-item"][data-case-id="{case_id}"]').click()
    await expect(page.get_by_test_id("case-id")).to_have_text(case_id)
    await page.get_by_test_id("claim-button").click()
    await expect(page.get_by_test_id("claim-button")).to_be_hidden()


async def test_an_open_window_says_until_when_and_lets_the_agent_reply(
        console_gateway: dict[str, Any], console_page: Page) -> None:
    console, page = console_gateway, console_page
    case_id = await whatsapp_case(console, "+447700900123", last_wrote=time.time() - 3600)
    await open_and_claim(page, console, case_id)
    note = page.get_by_test_id("composer-note")
    await expect(note).to_have_attribute("data-reply-window", "open")
    await expect(note).to_contain_text("Text replies possible until")
    await expect(note).to_contain_text("24 h after the customer's last message")
    await page.get_by_test_id("reply-input").fill("Your refund is through.")
    await expect(page.get_by_test_id("send-button")).to_be_enabled()


async def test_a_closed_window_is_said_before_the_agent_claims(console_gateway: dict[str, Any],
                                                               console_page: Page) -> None:
    console, page = console_gateway, console_page
    case_id = await whatsapp_case(console, "+447700900111", last_wrote=time.time() - DAY - 60)
    await sign_in(page, console["url"])
    await page.locator(f'[data-testid="queue-item"][data-case-id="{case_id}"]').click()
    await expect(page.get_by_test_id("composer-note")).to_have_attribute("data-reply-window",
                                                                         "closed")


async def test_a_closed_window_says_why_and_the_reply_cannot_be_sent(
        console_gateway: dict[str, Any], console_page: Page) -> None:
    console, page = console_gateway, console_page
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
        console_gateway: dict[str, Any], console_page: Page) -> None:
    console, page = console_gateway, console_page
    case_id = await whatsapp_case(console, "+447700900789", last_wrote=time.time() - DAY + 15)
    await open_and_claim(page, console, case_id)
    note = page.get_by_test_id("composer-note")
    await expect(note).to_have_attribute("data-reply-window", "open")
    await expect(note).to_have_attribute("data-reply-window", "closed", timeout=30_000)
    await expect(page.get_by_test_id("send-button")).to_be_disabled()
