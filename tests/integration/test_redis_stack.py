"""The same assistant with every store in Redis: the gateway's stores, Rasa's tracker store and
Rasa's lock store, selected only through environment variables."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Iterator

import aiohttp
import pytest
import redis

from bot.stack import Ports, Stack
from tests.chat_client import ChatClient

pytestmark = pytest.mark.integration

REDIS_DB_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture(scope="module")
def redis_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    prefix = f"it-{uuid.uuid4().hex[:8]}:"
    running = Stack(ports=Ports.free(), state_dir=Path(tmp_path_factory.mktemp("redis-stack")),
                    redis_url=REDIS_DB_URL, extra_env={"REDIS_PREFIX": prefix})
    asyncio.run(running.start())
    yield running, prefix
    running.stop()
    client = redis.Redis.from_url(REDIS_DB_URL)
    client.flushdb()


async def test_conversation_state_lives_in_redis(redis_stack: tuple[Stack, str]) -> None:
    stack, prefix = redis_stack
    async with aiohttp.ClientSession() as http:
        chat = ChatClient(await http.ws_connect(f"{stack.gateway_url}/webchat/ws"))
        await chat.hello()
        answer = await chat.turn("how much is shipping")
        assert "$4.99" in answer[0]["text"]
    client = redis.Redis.from_url(REDIS_DB_URL, decode_responses=True)
    keys = set(client.keys("*"))
    assert any(k.startswith(prefix + "transcript:web:") for k in keys), keys
    assert any(k.startswith(prefix + "session:") for k in keys), keys
    # The project's tracker store on Redis, selected by RASA_TRACKER_STORE=redis.
    assert any(k.startswith("rasa:tracker:events:web:") for k in keys), keys
    assert any(k.startswith(prefix + "journal:") for k in keys), keys


async def test_a_reload_resumes_from_redis_after_a_gateway_restart(
        redis_stack: tuple[Stack, str]) -> None:
    stack, _ = redis_stack
    async with aiohttp.ClientSession() as http:
        chat = ChatClient(await http.ws_connect(f"{stack.gateway_url}/webchat/ws"))
        await chat.hello()
        await chat.turn("do you ship to canada")
        await chat.ws.close()
    gateway = stack.process("gateway")
    stack.stop_process(gateway)
    stack.spawn(gateway)
    await stack.wait_healthy(gateway)
    async with aiohttp.ClientSession() as http:
        again = ChatClient(await http.ws_connect(f"{stack.gateway_url}/webchat/ws"))
        frame = await again.hello(chat.session)
    assert frame["session"] == chat.session
    assert [e["role"] for e in frame["history"]] == ["customer", "bot"]
