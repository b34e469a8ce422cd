"""In a real headless Chromium, with the stores on a redis-server of the test's own: when the
gateway's pub/sub subscription was cut (what a Redis restart or a network blip does), what was
published meanwhile never arrived, and the open pages catch up without a reload: the widget
shows a reply it missed, the console's queue a case it missed. What was missed is written to the
stores without being published, as a message published while the subscription was away."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import pytest
from playwright.async_api import Page, expect

from bot.app import STORES_KEY, create_app
from bot.state import Case, CaseStatus
from bot.stores import Stores, redis_stores
from tests.browser.conftest import GREETING, ChatPage, Gateway
from tests.conftest import Serve
from tests.console.conftest import AGENT_ACCOUNTS, ANA, ANA_PASSWORD, NluFakeRasa
from tests.gateways import settings_for
from tests.redis_server import RedisServer

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def gateway_stores(own_redis: RedisServer) -> Stores:
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


@pytest.fixture
async def console(own_redis: RedisServer, serve: Serve) -> AsyncIterator[dict[str, Any]]:
    rasa = NluFakeRasa()
    rasa_url = await serve(rasa.app())
    settings = settings_for(rasa, rasa_url, pending_retry_interval_s=3600.0)
    app = create_app(settings, stores=redis_stores(own_redis.url, prefix="browser-resync:"),
                     env={"AGENT_ACCOUNTS": AGENT_ACCOUNTS})
    url = await serve(app)
    async with aiohttp.ClientSession() as http:
        yield {"url": url, "app": app, "http": http}


async def test_the_console_shows_a_case_it_missed_while_the_bus_was_away(
        console: dict[str, Any], page: Page, own_redis: RedisServer) -> None:
    await page.goto(console["url"] + "/console/")
    await page.get_by_test_id("login-email").fill(ANA)
    await page.get_by_test_id("login-password").fill(ANA_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "online")
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


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    await context.close()
    assert not errors, f"JavaScript errors on the console page: {errors}"
