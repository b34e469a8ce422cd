"""Gateway fixtures: the real gateway app against a fake Rasa, and a web chat client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
import pytest

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stores import Stores, memory_stores
from tests.conftest import Serve
from tests.chat_client import ChatClient
from tests.fakes.rasa import FakeRasa

HANDOFF_SECRET = "test-handoff-secret"


@pytest.fixture
def stores() -> Stores:
    return memory_stores()


@dataclass
class Gateway:
    url: str
    engine: ConversationEngine
    stores: Stores
    rasa: FakeRasa


@pytest.fixture
async def gateway(serve: Serve, fake_rasa: tuple[FakeRasa, str], stores: Stores) -> Gateway:
    settings = Settings(rasa_url=fake_rasa[1], handoff_secret=HANDOFF_SECRET,
                        pending_retry_interval_s=0.2, max_message_chars=200)
    app = create_app(settings, stores=stores)
    url = await serve(app)
    return Gateway(url=url, engine=app[ENGINE_KEY], stores=stores, rasa=fake_rasa[0])


@pytest.fixture
async def open_chat(gateway: Gateway) -> AsyncIterator[Any]:
    sessions: list[aiohttp.ClientSession] = []

    async def open_() -> ChatClient:
        http = aiohttp.ClientSession()
        sessions.append(http)
        ws = await http.ws_connect(f"{gateway.url}/webchat/ws")
        return ChatClient(ws)

    yield open_
    for http in sessions:
        await http.close()
