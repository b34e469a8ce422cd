"""Slack fixtures: the real gateway app with the Slack channel on, the fake Slack (its Web API,
and a sender of signed events and button presses), and a fake Rasa."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

import aiohttp
import pytest

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stores import Stores, memory_stores
from tests.conftest import Serve
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack_api import SIGNING_SECRET, SUPPORT_CHANNEL, TOKEN, FakeSlackApi, SlackSender

HANDOFF_SECRET = "test-handoff-secret"


def slack_env(api_url: str, **overrides: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url, "SLACK_CHANNELS": SUPPORT_CHANNEL,
            # Back off briefly between send attempts, so retry scenarios stay quick (Retry-After
            # still sets the delay when Slack gives one).
            "SEND_RETRY_BASE_DELAY_S": "0.01", **overrides}


@dataclass
class SlackGateway:
    url: str
    engine: ConversationEngine
    stores: Stores
    rasa: FakeRasa
    slack: FakeSlackApi
    events: SlackSender


@pytest.fixture
async def fake_slack(serve: Serve) -> tuple[FakeSlackApi, str]:
    fake = FakeSlackApi()
    return fake, f"{await serve(fake.app())}/api/"


MakeGateway = Callable[[Stores], Awaitable[SlackGateway]]


@pytest.fixture
async def make_gateway(serve: Serve, http: aiohttp.ClientSession, fake_rasa: tuple[FakeRasa, str],
                       fake_slack: tuple[FakeSlackApi, str]) -> MakeGateway:
    """Start a gateway instance with the Slack channel on; several may share one store."""
    async def make(stores: Stores) -> SlackGateway:
        settings = Settings(rasa_url=fake_rasa[1], handoff_secret=HANDOFF_SECRET,
                            pending_retry_interval_s=0.2)
        app = create_app(settings, stores=stores, env=slack_env(fake_slack[1]))
        url = await serve(app)
        return SlackGateway(url=url, engine=app[ENGINE_KEY], stores=stores, rasa=fake_rasa[0],
                            slack=fake_slack[0], events=SlackSender(http, url))

    return make


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> SlackGateway:
    return await make_gateway(memory_stores())
