"""An order-status conversation over Slack, end to end: signed Events API deliveries into a
gateway with the Slack channel on, the real Rasa server and action server behind it, and the
replies arriving at a fake Slack Web API through the real slack_sdk client."""

from __future__ import annotations

import asyncio
import uuid
from typing import AsyncIterator

import aiohttp
import pytest

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stack import Stack
from bot.stores import memory_stores
from tests.conftest import Serve
from tests.fakes.slack_api import SIGNING_SECRET, TOKEN, FakeSlackApi, SlackSender, dm

pytestmark = pytest.mark.integration

TURN_TIMEOUT_S = 60


class SlackCustomer:
    """A customer writing to the bot in their own DM, reading the bot's replies there."""

    def __init__(self, events: SlackSender, engine: ConversationEngine, slack: FakeSlackApi) -> None:
        self.events, self.engine, self.slack = events, engine, slack
        self.channel = f"D{uuid.uuid4().hex[:10].upper()}"  # a fresh Rasa tracker per test

    async def turn(self, text: str) -> str:
        seen = len(self.slack.posts())
        assert await self.events.send(dm(text, channel=self.channel)) == 200
        await asyncio.wait_for(self.engine.idle(), TURN_TIMEOUT_S)
        replies = self.slack.posts()[seen:]
        assert replies, f"no reply to {text!r}"
        assert {r["channel"] for r in replies} == {self.channel}
        return "\n".join(r["text"] for r in replies)


@pytest.fixture
async def customer(stack: Stack, serve: Serve) -> AsyncIterator[SlackCustomer]:
    slack = FakeSlackApi()
    api_url = f"{await serve(slack.app())}/api/"
    settings = Settings(rasa_url=f"http://127.0.0.1:{stack.ports.rasa}",
                        rasa_token=stack.rasa_token, handoff_secret=stack.handoff_secret)
    app = create_app(settings, stores=memory_stores(),
                     env={"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                          "SLACK_API_URL": api_url})
    url = await serve(app)
    async with aiohttp.ClientSession() as http:
        yield SlackCustomer(SlackSender(http, url), app[ENGINE_KEY], slack)


async def test_order_status_conversation_over_slack(customer: SlackCustomer) -> None:
    assert "order number" in await customer.turn("where is my order")
    assert "email address or phone number" in await customer.turn("482913")
    answer = await customer.turn("jane.doe@example.com")
    assert "has shipped" in answer and "UPS" in answer
    assert "#482913" in answer
