"""SMS fixtures: the real gateway app with the SMS channel on, pointed at a fake Twilio API and a
fake Rasa. `sms.text(...)` is a customer texting the number (a signed Twilio webhook)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Mapping, Sequence
from xml.etree import ElementTree

import pytest
from aiohttp import web

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.messages import InboundMessage
from bot.settings import Settings
from bot.stores import Stores, memory_stores
from tests.conftest import Serve
from tests.fakes.rasa import FakeRasa
from tests.fakes.twilio_api import FakeTwilio

CUSTOMER = "+447700900123"
HANDOFF_SECRET = "test-handoff-secret"


@dataclass
class GatedRasa(FakeRasa):
    """FakeRasa that holds every answer while `gate` is closed: lets a test act while a turn is
    provably still in progress, without sleeping."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def _webhook(self, request: web.Request) -> web.Response:
        await self.gate.wait()
        return await super()._webhook(request)


@dataclass
class SmsGateway:
    url: str
    engine: ConversationEngine
    stores: Stores
    rasa: GatedRasa
    twilio: FakeTwilio

    async def text(self, body: str, *, sender: str = CUSTOMER, sid: str | None = None,
                   media: Sequence[tuple[str, str]] = (),
                   extra: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """The customer texts the number; returns the webhook's status, content type and body."""
        return await self.twilio.text(self.url, sender=sender, body=body,
                                      sid=sid or new_sid(), media=media, extra=extra)

    async def settle(self) -> None:
        """Wait until every accepted message is processed and its replies sent (or dropped)."""
        await self.engine.idle()


MakeGateway = Callable[..., Awaitable[SmsGateway]]


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def sms_env(twilio_url: str, **overrides: str) -> dict[str, str]:
    # Exponential backoff without the waiting (Retry-After is still honoured as given).
    return FakeTwilio().channel_env(twilio_url, **{"SEND_RETRY_BASE_DELAY_S": "0.01",
                                                   **overrides})


@pytest.fixture
async def fake_twilio(serve: Serve) -> tuple[FakeTwilio, str]:
    fake = FakeTwilio()
    return fake, await serve(fake.app())


@pytest.fixture
async def fake_rasa(serve: Serve) -> tuple[GatedRasa, str]:
    fake = GatedRasa()
    return fake, await serve(fake.app())


@pytest.fixture
async def make_gateway(serve: Serve, fake_twilio: tuple[FakeTwilio, str],
                       fake_rasa: tuple[GatedRasa, str]) -> MakeGateway:
    """Start a gateway app; several may share one store (gateway instances behind a balancer)."""

    async def make(*, stores: Stores | None = None, **env_overrides: str) -> SmsGateway:
        stores = stores or memory_stores()
        settings = Settings(rasa_url=fake_rasa[1], handoff_secret=HANDOFF_SECRET,
                            pending_retry_interval_s=0.2)
        app = create_app(settings, stores=stores, env=sms_env(fake_twilio[1], **env_overrides))
        url = await serve(app)
        return SmsGateway(url=url, engine=app[ENGINE_KEY], stores=stores, rasa=fake_rasa[0],
                          twilio=fake_twilio[0])

    return make


@pytest.fixture
async def sms(make_gateway: MakeGateway) -> SmsGateway:
    return await make_gateway()


def twiml_messages(xml: str) -> list[str]:
    """The texts a TwiML <Response> asks Twilio to send back."""
    root = ElementTree.fromstring(xml)
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]


@pytest.fixture
def accepted(sms: SmsGateway, monkeypatch: pytest.MonkeyPatch) -> list[InboundMessage]:
    """What the channel hands to the engine (spied, still processed normally)."""
    seen: list[InboundMessage] = []
    accept = sms.engine.accept

    async def spy(message: InboundMessage) -> bool:
        seen.append(message)
        return await accept(message)

    monkeypatch.setattr(sms.engine, "accept", spy)
    return seen
