"""Restarting Redis under the real stack loses nothing. The stack keeps everything in Redis (the
gateway's stores and intake journal, Rasa's tracker and lock stores); this test runs its own
redis-server with append-only persistence (fsync on every write), as docs/operations.md tells
operators to configure it: the machine's shared Redis keeps nothing on disk. Customers behave
like the web chat widget; while Redis is away the gateway refuses to acknowledge (the widget sends
again) and Rasa cannot answer (the gateway keeps the messages and says so)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator, Iterator

import aiohttp
import pytest

from bot.stack import Ports, Stack
from tests.customers import WidgetCustomer, settle
from tests.integration.test_faults import ANSWERS, ask
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis-aof"))
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Stack]:
    running = Stack(ports=Ports.free(), state_dir=Path(tmp_path_factory.mktemp("redis-faults")),
                    redis_url=redis_server.url, say=lambda line: None)
    try:
        asyncio.run(running.start())
    except BaseException:
        running.stop()
        raise
    yield running
    running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_restarting_redis_loses_nothing_and_answers_once(
        stack: Stack, redis_server: RedisServer, http: aiohttp.ClientSession) -> None:
    crowd = [WidgetCustomer(stack.gateway_url, http) for _ in range(4)]
    await asyncio.gather(*(c.start() for c in crowd))
    await ask(crowd, 2)  # acknowledged: in Redis's journal, fsynced
    redis_server.kill()  # SIGKILL: what was not on disk would be gone
    for i, customer in enumerate(crowd):  # said while Redis is down: not acknowledged yet
        await customer.say(list(ANSWERS)[(i + 5) % len(ANSWERS)])
    await asyncio.sleep(1.0)
    redis_server.start()
    result = await settle(crowd, ANSWERS, timeout_s=180)
    print(f"\nRedis SIGKILL and restart (AOF, fsync always): {result.line()}")
    assert result.questions == 12
    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0)
    for customer in crowd:
        await customer.stop()
