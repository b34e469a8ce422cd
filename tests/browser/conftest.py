"""Browser fixtures: the real gateway app (restartable on its port), a fake Rasa, and headless
Debian Chromium driven by Playwright's async API. Nothing is downloaded: the browser is the one
the project's setup apt-installs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

from bot.app import ENGINE_KEY, STORES_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stores import Stores, memory_stores
from tests.conftest import Serve
from tests.console.conftest import AGENT_ACCOUNTS, ANA, ANA_PASSWORD, NluFakeRasa
from tests.gateways import settings_for
from tests.fakes.rasa import FakeRasa, Reply

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SESSION_KEY = "northwind.chat.session"
OUTBOX_KEY = "northwind.chat.outbox"

GREETING = "Hi! I'm the Northwind assistant. What can I help you with?"
TRACKING_REPLY = ("You can follow your parcel at https://track.northwind.example/NW-10442.\n"
                  "It usually updates within a day.")


def widget_replies(text: str) -> Reply:
    """The fake Rasa's script: deterministic answers the widget tests rely on."""
    if text == "hello":
        return [{"text": GREETING, "buttons": [
            {"title": "Where's my order?", "payload": "/order_status"},
            {"title": "Talk to a person", "payload": "/human_handoff"}]}]
    if text == "/order_status":
        return [{"text": "What's your order number?"}]
    if text == "track":
        return [{"text": TRACKING_REPLY}]
    if text == "options":  # one reply of two messages: the options come first
        return [{"text": "Here is what I can do.", "buttons": [
                    {"title": "Start a return", "payload": "/start_return"},
                    {"title": "Delivery times", "payload": "/delivery_times"}]},
                {"text": "Or just type your question."}]
    return [{"text": f"You said: {text}"}]


@pytest.fixture
async def fake_rasa(serve: Serve) -> FakeRasa:
    fake = FakeRasa(replies=widget_replies)
    fake.url = await serve(fake.app())  # type: ignore[attr-defined]
    return fake


@dataclass
class Gateway:
    """The real gateway app on 127.0.0.1; can go away and come back on the same port."""

    runner: web.AppRunner
    port: int
    engine: ConversationEngine
    stores: Stores
    rasa: FakeRasa
    site: web.TCPSite | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def go_down(self) -> None:
        """Stop listening and drop every open connection (websockets included)."""
        assert self.site is not None
        await self.site.stop()
        self.site = None
        server = self.runner.server
        assert server is not None
        for conn in server.connections:
            conn.force_close()

    async def come_back(self) -> None:
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await self.site.start()

    async def conversation_id(self, session_token: str) -> str:
        cid = await self.stores.sessions.get(session_token)
        assert cid is not None, "the session token does not map to a conversation"
        return cid


@pytest.fixture
def gateway_stores() -> Stores:
    """The gateway's stores: in memory, unless a test module needs others."""
    return memory_stores()


@pytest.fixture
async def gateway(fake_rasa: FakeRasa, gateway_stores: Stores) -> AsyncIterator[Gateway]:
    settings = Settings(rasa_url=fake_rasa.url,  # type: ignore[attr-defined]
                        rasa_token=fake_rasa.token, rasa_timeout_s=5.0,
                        pending_retry_interval_s=3600.0)
    app = create_app(settings, stores=gateway_stores)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    gw = Gateway(runner=runner, port=port, engine=app[ENGINE_KEY], stores=app[STORES_KEY],
                 rasa=fake_rasa, site=site)
    yield gw
    await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}. The project's setup installs Debian's "
                    "chromium package (apt-get install chromium); set CHROMIUM_PATH to use "
                    "another binary. Playwright's own browser downloads are not used.")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


class ChatPage:
    """The shop page with its chat widget, plus the helpers the tests share."""

    def __init__(self, page: Page, gateway: Gateway) -> None:
        self.page = page
        self.gateway = gateway
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", self._on_dialog)

    async def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    # locators
    @property
    def log(self):
        return self.page.get_by_test_id("chat-log")

    @property
    def input(self):
        return self.page.get_by_test_id("chat-input")

    @property
    def status(self):
        return self.page.get_by_test_id("status")

    @property
    def typing(self):
        return self.page.get_by_test_id("typing")

    def messages(self, role: str | None = None):
        selector = '[data-testid="msg"]' + (f'[data-role="{role}"]' if role else "")
        return self.log.locator(selector)

    def message_with(self, role: str, text: str):
        return self.messages(role).filter(has_text=text)

    # actions
    async def open(self) -> None:
        await self.page.goto(self.gateway.url + "/")
        await self.ensure_open()
        await expect(self.status).to_have_attribute("data-state", "online")

    async def ensure_open(self) -> None:
        if not await self.input.is_visible():
            await self.page.locator(".nwc-launcher").click()
        await expect(self.input).to_be_visible()

    async def send(self, text: str) -> None:
        await self.input.fill(text)
        await self.input.press("Enter")

    async def session_token(self) -> str | None:
        return await self.page.evaluate(f"localStorage.getItem({SESSION_KEY!r})")

    async def outbox(self) -> list[dict[str, Any]]:
        return await self.page.evaluate(f"JSON.parse(localStorage.getItem({OUTBOX_KEY!r}) || '[]')")

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        return path


@pytest.fixture
async def chat(browser: Browser, gateway: Gateway) -> AsyncIterator[ChatPage]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    chat_page = ChatPage(page, gateway)
    yield chat_page
    await context.close()
    assert not chat_page.errors, f"JavaScript errors on the page: {chat_page.errors}"
    assert not chat_page.dialogs, f"unexpected dialogs (alert/confirm): {chat_page.dialogs}"


@pytest.fixture
async def mobile_chat(browser: Browser, gateway: Gateway) -> AsyncIterator[ChatPage]:
    context = await browser.new_context(viewport={"width": 375, "height": 740},
                                        device_scale_factor=2, is_mobile=True, has_touch=True)
    page = await context.new_page()
    chat_page = ChatPage(page, gateway)
    yield chat_page
    await context.close()
    assert not chat_page.errors, f"JavaScript errors on the page: {chat_page.errors}"


# --- the agent console ---------------------------------------------------------------------------
@pytest.fixture
def console_stores() -> Stores:
    """The console gateway's stores: in memory, unless a test module needs others."""
    return memory_stores()


@pytest.fixture
async def console_gateway(console_stores: Stores, serve: Serve) -> AsyncIterator[dict[str, Any]]:
    """The real gateway app with two agent accounts and a fake Rasa that ranks FAQs."""
    rasa = NluFakeRasa()
    rasa_url = await serve(rasa.app())
    settings = settings_for(rasa, rasa_url, pending_retry_interval_s=3600.0)
    app = create_app(settings, stores=console_stores, env={"AGENT_ACCOUNTS": AGENT_ACCOUNTS})
    url = await serve(app)
    async with aiohttp.ClientSession() as http:
        yield {"url": url, "app": app, "rasa": rasa, "http": http}


@pytest.fixture
async def console_page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A 401 from the API is how the page learns it must sign in; anything else is a bug.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "status of 401" not in msg.text else None)
    yield page
    await context.close()
    assert not errors, f"JavaScript errors on the console page: {errors}"


async def sign_in(page: Page, console_url: str) -> None:
    """Ana signs in on the console page and sees it live."""
    await page.goto(console_url + "/console/")
    await page.get_by_test_id("login-email").fill(ANA)
    await page.get_by_test_id("login-password").fill(ANA_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "online")
