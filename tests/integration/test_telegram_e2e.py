"""An order-status conversation on Telegram through the real Rasa server and action server: a fake
Bot API server stands in for Telegram (updates posted to the webhook, sendMessage recorded) and a
second gateway app, run in-process, hosts the Telegram channel. (Handoff packages from the action
server go to the stack's own gateway, which does not matter here.)"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stack import Stack
from bot.stores import memory_stores
from tests.conftest import Serve
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, Updates

pytestmark = pytest.mark.integration

TURN_TIMEOUT_S = 60.0
SECRET = "e2e-webhook-secret"


@dataclass
class TelegramUser:
    """A customer in a private chat with the bot."""

    chat_id: int
    gateway_url: str
    engine: ConversationEngine
    api: FakeTelegramAPI
    updates: Updates = field(default_factory=Updates)

    async def send(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Deliver an update to the webhook; returns the messages the bot sent in reply."""
        already = len(self.api.sent(self.chat_id))
        async with aiohttp.ClientSession() as http, http.post(
                f"{self.gateway_url}/telegram/webhook", json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as resp:
            assert resp.status == 200
        await asyncio.wait_for(self.engine.idle(), TURN_TIMEOUT_S)
        # /start is answered by the channel itself, not an engine worker: wait for that too.
        deadline = asyncio.get_running_loop().time() + 5
        while not (replies := self.api.sent(self.chat_id)[already:]):
            assert asyncio.get_running_loop().time() < deadline, f"no reply for {update}"
            await asyncio.sleep(0.05)
        return replies

    async def turn(self, text: str) -> str:
        update = self.updates.message(text, chat_id=self.chat_id, user_id=self.chat_id)
        return "\n".join(m["text"] for m in await self.send(update))


@pytest.fixture
async def user(stack: Stack, serve: Serve) -> TelegramUser:
    api = FakeTelegramAPI()
    api_url = await serve(api.app())
    settings = Settings(rasa_url=f"http://127.0.0.1:{stack.ports.rasa}",
                        rasa_token=stack.rasa_token, handoff_secret=stack.handoff_secret)
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_URL": api_url}
    app = create_app(settings, stores=memory_stores(), env=env)
    url = await serve(app)
    # A fresh chat per run: the stack's Rasa tracker outlives a single test.
    chat_id = random.randrange(10**8, 10**9)
    return TelegramUser(chat_id=chat_id, gateway_url=url, engine=app[ENGINE_KEY], api=api,
                        updates=Updates(api=api))


async def test_order_status_on_telegram(user: TelegramUser) -> None:
    assert "order number" in await user.turn("where is my order")
    assert "email address or phone number" in await user.turn("482913")
    answer = await user.turn("jane.doe@example.com")
    assert "has shipped" in answer and "UPS" in answer
    assert all(len(m["text"]) <= 4096 for m in user.api.sent())


async def test_the_welcome_button_starts_order_tracking(user: TelegramUser) -> None:
    [welcome] = await user.send(user.updates.message("/start", chat_id=user.chat_id,
                                                     user_id=user.chat_id))
    assert "automated assistant" in welcome["text"]
    replies = await user.send(user.updates.press(welcome, "/order_status",
                                                 user_id=user.chat_id))
    assert "order number" in "\n".join(m["text"] for m in replies)
    assert len(user.api.calls_to("answerCallbackQuery")) == 1
