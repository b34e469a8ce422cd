"""Gateway fixtures: the real gateway app against a fake Rasa, and a web chat client."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
import pytest

from bot.app import ENGINE_KEY, create_app
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stores import Stores, memory_stores
from tests.conftest import Serve
from tests.fakes.rasa import FakeRasa

HANDOFF_SECRET = "test-handoff-secret"


@pytest.fixture
async def fake_rasa(serve: Serve) -> tuple[FakeRasa, str]:
    fake = FakeRasa()
    return fake, await serve(fake.app())


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


class ChatClient:
    """A scripted browser tab: speaks the web chat websocket protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.session: str | None = None
        self.history: list[dict[str, Any]] = []

    async def hello(self, session: str | None = None) -> dict[str, Any]:
        await self.ws.send_json({"type": "hello", "session": session})
        frame = await self.next("session")
        self.session, self.history = frame["session"], frame["history"]
        return frame

    async def say(self, text: str, *, msg_id: str | None = None) -> str:
        msg_id = msg_id or uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "id": msg_id, "text": text})
        return msg_id

    async def press(self, title: str, payload: str) -> str:
        msg_id = uuid.uuid4().hex
        await self.ws.send_json({"type": "button", "id": msg_id, "title": title, "payload": payload})
        return msg_id

    async def next(self, kind: str, *, timeout: float = 5.0) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            while True:
                frame = json.loads((await self.ws.receive()).data)
                if frame["type"] == kind:
                    return frame
        return await asyncio.wait_for(read(), timeout)

    async def reply(self, *, timeout: float = 5.0) -> dict[str, Any]:
        return await self.next("message", timeout=timeout)

    async def silence(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Frames of a given kind that arrive within `seconds` (expected: none)."""
        frames = []
        try:
            while True:
                msg = await asyncio.wait_for(self.ws.receive(), seconds)
                frame = json.loads(msg.data)
                if frame["type"] == "message":
                    frames.append(frame)
        except asyncio.TimeoutError:
            return frames


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
