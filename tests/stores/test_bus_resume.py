"""Redis pub/sub keeps nothing: what is published while an instance's subscription is down never
reaches it. The bus says when it is subscribed again, so live views can send their state again;
these tests cut its subscription on a redis-server of their own."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from bot.stores import Stores, redis_stores
from tests.redis_server import RedisServer


@pytest.fixture
async def stores(own_redis: RedisServer) -> AsyncIterator[Stores]:
    built = redis_stores(own_redis.url, prefix="bus-test:")
    await built.start()
    yield built
    await built.close()


class Resumes:
    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    async def __call__(self) -> None:
        self.count += 1
        self.event.set()


async def test_subscribing_at_start_is_not_a_resume(stores: Stores) -> None:
    resumes = Resumes()
    stores.bus.on_resume(resumes)
    await asyncio.sleep(0.5)
    assert resumes.count == 0


async def test_a_cut_subscription_comes_back_and_says_so(own_redis: RedisServer,
                                                         stores: Stores) -> None:
    resumes = Resumes()
    stores.bus.on_resume(resumes)
    assert own_redis.cut_subscribers() == 1
    await asyncio.wait_for(resumes.event.wait(), 5)
    assert resumes.count == 1


async def test_a_restarted_redis_is_subscribed_again(own_redis: RedisServer,
                                                     stores: Stores) -> None:
    resumes = Resumes()
    stores.bus.on_resume(resumes)
    own_redis.kill()
    await asyncio.sleep(1.5)  # a few failed attempts while it is away
    assert resumes.count == 0
    own_redis.start()
    await asyncio.wait_for(resumes.event.wait(), 10)
    assert resumes.count == 1


async def test_messages_flow_again_after_a_resume(own_redis: RedisServer, stores: Stores) -> None:
    resumes = Resumes()
    stores.bus.on_resume(resumes)
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(message: dict[str, Any]) -> None:
        await got.put(message)

    stores.bus.subscribe("t", handler)
    own_redis.cut_subscribers()
    await asyncio.wait_for(resumes.event.wait(), 5)
    await stores.bus.publish("t", {"n": 1})
    assert await asyncio.wait_for(got.get(), 2) == {"n": 1}


async def test_a_failing_resume_handler_does_not_stop_the_others(own_redis: RedisServer,
                                                                 stores: Stores) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    resumes = Resumes()
    stores.bus.on_resume(broken)
    stores.bus.on_resume(resumes)
    own_redis.cut_subscribers()
    await asyncio.wait_for(resumes.event.wait(), 5)
