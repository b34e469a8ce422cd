"""Gateway fixtures: the real gateway app against a fake Rasa, and a web chat client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest

from bot.engine import ConversationEngine
from bot.stores import Stores, memory_stores, sqlite_stores
from tests.chat_client import ChatClient
from tests.fakes.rasa import FakeRasa
from tests.gateways import HANDOFF_SECRET, start_gateway

__all__ = ["HANDOFF_SECRET", "Gateway"]


@pytest.fixture
async def file_stores(tmp_path: Path) -> AsyncIterator[Stores]:
    """The embedded default's stores, on a file (what a restart finds again)."""
    built = sqlite_stores(tmp_path / "gateway.db")
    await built.start()
    yield built
    await built.close()


@pytest.fixture
async def stores() -> AsyncIterator[Stores]:
    built = memory_stores()
    yield built
    await built.close()


@dataclass
class Gateway:
    url: str
    engine: ConversationEngine
    stores: Stores
    rasa: FakeRasa


@pytest.fixture
async def gateway(fake_rasa: tuple[FakeRasa, str], stores: Stores) -> AsyncIterator[Gateway]:
    rasa, rasa_url = fake_rasa
    running = await start_gateway(rasa, rasa_url, stores=stores, max_message_chars=200)
    yield Gateway(url=running.url, engine=running.engine, stores=stores, rasa=rasa)
    await running.stop()


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
