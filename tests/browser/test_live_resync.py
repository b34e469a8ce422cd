"""In a real headless Chromium, with the stores on a redis-server of the test's own: when the
gateway's pub/sub subscription was cut (what a Redis restart or a network blip does), what was
published meanwhile never arrived, and the open pages catch up without a reload: the widget
shows a reply it missed, the console's queue a case it missed. What was missed is written to the
stores without being published, as a message published while the subscription was away."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.async_api import Page, expect

from bot.app import STORES_KEY
from bot.state import Case, CaseStatus
from bot.stores import Stores, redis_stores
from tests.browser.conftest import GREETING, ChatPage, Gateway, sign_in
from tests.redis_server import RedisServer

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


@pytest.fixture
def gateway_stores(own_redis: RedisServer) -> Stores:
    return redis_stores(own_redis.url, prefix="browser-resync:")


@pytest.fixture
def console_stores(own_redis: RedisServer) -> Stores:
    return redis_stores(own_redis.url, prefix="browser-resync:")


async def test_the_widget_shows_a_reply_it_missed_while_the_bus_was_away(
        chat: ChatPage, gateway: Gateway, own_redis: RedisServer) -> None:
    await chat.open()
    await chat.send("hello")
    await expect(chat.message_with("bot", GREETING)).to_be_visible()
    token = await chat.session_token()
    assert token is not None
    await gateway.stores.transcripts.append(
        await gateway.conversation_id(token),
        {"id": "missed-1", "role": "bot", "text": "Your parcel left the warehouse.",
         "ts": time.time()}, limit=100)

    assert own_redis.cut_subscribers() == 1
    await expect(chat.message_with("bot", "Your parcel left the warehouse.")).to_be_visible(
        timeout=TIMEOUT_MS)
    await expect(chat.messages()).to_have_count(3)  # the history replaced the list: no doubles
    assert await chat.session_token() == token
    await chat.send("track")  # and the conversation goes on live
    await expect(chat.message_with("bot", "You can follow your parcel")).to_be_visible()


async def test_the_console_shows_a_case_it_missed_while_the_bus_was_away(
        console_gateway: dict[str, Any], console_page: Page, own_redis: RedisServer) -> None:
    console, page = console_gateway, console_page
    await sign_in(page, console["url"])
    await expect(page.get_by_test_id("queue-waiting")).to_contain_text("Nobody is waiting")
    stores: Stores = console["app"][STORES_KEY]
    await stores.cases.create(Case(
        case_id="C-MISSED01", conversation_id="web:missed", channel="web",
        customer_id="web:missed", trigger={"kind": "customer_request"},
        package={"transcript": [], "steps_tried": []}, opened_at=time.time(), status=CaseStatus.QUEUED))

    own_redis.cut_subscribers()
    await expect(page.locator('[data-testid="queue-item"][data-case-id="C-MISSED01"]')
                 ).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "online")
