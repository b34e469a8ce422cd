"""WhatsApp fixtures: the real gateway app with only the WhatsApp channel on (a Twilio account
without an SMS sender), pointed at a fake Twilio that speaks WhatsApp and calls back with signed
status reports, and a fake Rasa. `whatsapp.say(...)` is the customer writing (a signed
webhook)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping, Sequence

import pytest

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stores import Stores, memory_stores
from tests.conftest import Serve
from tests.fakes.rasa import FakeRasa
from tests.fakes.twilio_api import FakeTwilio

CUSTOMER = "+447700900123"
CONVERSATION = f"whatsapp:{CUSTOMER}"
TEMPLATE_SID = "HX" + "b" * 32


@dataclass
class WhatsAppGateway:
    url: str
    engine: ConversationEngine
    stores: Stores
    rasa: FakeRasa
    twilio: FakeTwilio

    async def say(self, body: str, *, sid: str | None = None,
                  button: tuple[str, str] | None = None,
                  media: Sequence[tuple[str, str]] = (),
                  extra: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """The customer writes; returns the webhook's status, content type and body."""
        return await self.twilio.whatsapp(self.url, sender=CUSTOMER, body=body,
                                          sid=sid or new_sid(), button=button, media=media,
                                          extra=extra)

    async def settle(self) -> None:
        await self.engine.idle()

    def bodies(self) -> list[str]:
        return self.twilio.bodies(CONVERSATION)

    async def transcript(self) -> list[dict[str, object]]:
        return await self.stores.transcripts.recent(CONVERSATION, limit=100)


MakeGateway = Callable[..., Awaitable[WhatsAppGateway]]


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def whatsapp_env(twilio_url: str, **overrides: str) -> dict[str, str]:
    return FakeTwilio().whatsapp_env(twilio_url, **{"SEND_RETRY_BASE_DELAY_S": "0.01",
                                                    **overrides})


@pytest.fixture
async def fake_twilio(serve: Serve) -> tuple[FakeTwilio, str]:
    fake = FakeTwilio()
    return fake, await serve(fake.app())


@pytest.fixture
async def make_gateway(serve: Serve, fake_twilio: tuple[FakeTwilio, str],
                       fake_rasa: tuple[FakeRasa, str]) -> MakeGateway:
    async def make(*, stores: Stores | None = None, **env_overrides: str) -> WhatsAppGateway:
        stores = stores or memory_stores()
        settings = Settings(rasa_url=fake_rasa[1], pending_retry_interval_s=0.2)
        app = create_app(settings, stores=stores,
                         env=whatsapp_env(fake_twilio[1], **env_overrides))
        url = await serve(app)
        twilio = fake_twilio[0]
        twilio.gateway_url = url  # Twilio's status callbacks reach this gateway
        return WhatsAppGateway(url=url, engine=app[ENGINE_KEY], stores=stores,
                               rasa=fake_rasa[0], twilio=twilio)

    return make


@pytest.fixture
async def whatsapp(make_gateway: MakeGateway) -> WhatsAppGateway:
    return await make_gateway()
