"""An order-status conversation by SMS through the real Rasa server and action server: a fake
Twilio carries the texts (signed webhooks in, REST API sends out) and a second gateway app, run
in-process, hosts the SMS channel. (Handoff packages from the action server go to the stack's own
gateway, which does not matter here.)"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import pytest

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stack import Stack
from bot.stores import memory_stores
from tests.conftest import Serve
from tests.fakes.twilio_api import FakeTwilio

pytestmark = pytest.mark.integration

TURN_TIMEOUT_S = 60.0


@dataclass
class Phone:
    """A customer's handset texting the SMS gateway."""

    number: str
    gateway_url: str
    engine: ConversationEngine
    twilio: FakeTwilio
    texts_sent: int = 0

    async def turn(self, body: str) -> str:
        """Text the number; returns every SMS received back in this turn, joined."""
        already = len(self.twilio.bodies(self.number))
        self.texts_sent += 1
        status, _, _ = await self.twilio.text(
            self.gateway_url, sender=self.number, body=body,
            sid=f"SM{self.number[1:]}{self.texts_sent:06d}")
        assert status == 200
        await asyncio.wait_for(self.engine.idle(), TURN_TIMEOUT_S)
        replies = self.twilio.bodies(self.number)[already:]
        assert replies, f"no SMS came back for {body!r}"
        return "\n".join(replies)


@pytest.fixture
async def phone(stack: Stack, serve: Serve) -> Phone:
    twilio = FakeTwilio()
    api_url = await serve(twilio.app())
    settings = Settings(rasa_url=f"http://127.0.0.1:{stack.ports.rasa}",
                        rasa_token=stack.rasa_token, handoff_secret=stack.handoff_secret)
    app = create_app(settings, stores=memory_stores(), env=twilio.channel_env(api_url))
    url = await serve(app)
    # A fresh number per run: the stack's Rasa tracker outlives a single test.
    number = f"+4477009{random.randrange(10**5):05d}"
    return Phone(number=number, gateway_url=url, engine=app[ENGINE_KEY], twilio=twilio)


async def test_order_status_by_sms(phone: Phone) -> None:
    assert "order number" in await phone.turn("where is my order")
    assert "email address or phone number" in await phone.turn("482913")
    answer = await phone.turn("jane.doe@example.com")
    assert "has shipped" in answer and "UPS" in answer
    assert all(len(body) <= 1600 for body in phone.twilio.bodies())
