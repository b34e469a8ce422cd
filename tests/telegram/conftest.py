"""Telegram channel fixtures: the real gateway app with the Telegram channel on, pointed at a fake
Bot API server, with a fake Rasa behind it; helpers that post updates the way Telegram does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, TypeVar

import aiohttp
import pytest

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stores import Stores, memory_stores
from tests.conftest import Serve
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, Updates

SECRET = "test-webhook-secret_0123456789"
CHAT = 4242  # the customer's DM chat id (equal to their user id, as on Telegram)
GROUP = -1001234567890
T = TypeVar("T")


async def eventually(check: Callable[[], T], *, timeout: float = 5.0) -> T:
    """Poll `check` until it returns something truthy (and return that) or time runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {result!r})")
        await asyncio.sleep(0.02)


@dataclass
class Gateway:
    url: str
    engine: ConversationEngine
    stores: Stores
    rasa: FakeRasa
    api: FakeTelegramAPI
    updates: Updates
    http: aiohttp.ClientSession

    async def post(self, update: Mapping[str, Any], *, secret: str | None = SECRET) -> int:
        """Deliver an update to the webhook as Telegram does; returns the HTTP status."""
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with self.http.post(f"{self.url}/telegram/webhook", json=update,
                                  headers=headers) as resp:
            return resp.status

    async def say(self, text: str, **kwargs: Any) -> dict[str, Any]:
        update = self.updates.message(text, **kwargs)
        assert await self.post(update) == 200
        return update

    async def replies(self, count: int, *, chat_id: int = CHAT) -> list[dict[str, Any]]:
        """Wait until at least `count` messages were sent to the chat; returns all of them."""
        def enough() -> list[dict[str, Any]]:
            sent = self.api.sent(chat_id)
            return sent if len(sent) >= count else []
        return await eventually(enough)

    async def settle(self) -> None:
        """Wait until the engine has processed everything queued."""
        await asyncio.wait_for(self.engine.idle(), 10)


@pytest.fixture
async def fake_telegram(serve: Serve) -> tuple[FakeTelegramAPI, str]:
    fake = FakeTelegramAPI()
    return fake, await serve(fake.app())


@pytest.fixture
def telegram_env(fake_telegram: tuple[FakeTelegramAPI, str]) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_URL": fake_telegram[1]}


MakeGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(serve: Serve, fake_rasa: tuple[FakeRasa, str],
                       fake_telegram: tuple[FakeTelegramAPI, str], telegram_env: dict[str, str],
                       http: aiohttp.ClientSession) -> MakeGateway:
    """Build and serve a gateway app; `env` entries override the Telegram defaults."""

    async def make(*, stores: Stores | None = None, env: Mapping[str, str] | None = None,
                   **settings: Any) -> Gateway:
        stores = stores or memory_stores()
        app = create_app(Settings(rasa_url=fake_rasa[1], pending_retry_interval_s=0.2,
                                  **settings),
                         stores=stores, env={**telegram_env, **(env or {})})
        url = await serve(app)
        return Gateway(url=url, engine=app[ENGINE_KEY], stores=stores, rasa=fake_rasa[0],
                       api=fake_telegram[0], updates=Updates(api=fake_telegram[0]), http=http)

    return make


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> Gateway:
    return await make_gateway()
