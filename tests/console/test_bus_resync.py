"""With Redis, case events reach the open consoles over pub/sub, which keeps nothing: an event
published while the gateway's subscription was away never arrives. When it is back, every open
console is told to reload its queue and the watched transcripts are sent again. A redis-server of
the test's own is cut."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from bot.stores import Stores, redis_stores
from tests.console.conftest import AgentClient, Customer, Gateway
from tests.redis_server import RedisServer


@pytest.fixture
async def stores(own_redis: RedisServer) -> AsyncIterator[Stores]:
    yield redis_stores(own_redis.url, prefix="console-resync:")  # the app starts and closes them


async def test_every_open_console_is_told_to_reload_its_queue(
        gateway: Gateway, ana: AgentClient, bo: AgentClient, own_redis: RedisServer) -> None:
    sockets = [await ana.ws(), await bo.ws()]
    own_redis.cut_subscribers()
    for socket in sockets:
        assert await socket.next("resync", timeout=10) == {"type": "resync"}


async def test_the_watched_transcript_is_sent_again(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer],
        own_redis: RedisServer) -> None:
    case_id, _ = case
    socket = await ana.ws()
    await socket.watch(case_id)
    await socket.next("transcript")
    own_redis.cut_subscribers()
    again = await socket.next("transcript", timeout=10)
    assert again["case_id"] == case_id
