"""Which work notices start a drain: the instance that journals a message drains it at once, so
its own notice is only acknowledged; another instance's notice starts a pass here, one that
gives way if that instance is on the conversation already. Two instances on the real Redis."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from bot.drain import Drainer
from bot.stores import Stores, redis_stores
from tests.conftest import REDIS_URL
from tests.stores.conftest import inbound


class Passes:
    """A drain that records each pass: (conversation, whether it waited for the lock). A pass
    lasts until `finish` is set, as a real one lasts a Rasa turn: longer than a notice takes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.finish = asyncio.Event()

    async def __call__(self, conversation_id: str, wait: bool) -> None:
        self.calls.append((conversation_id, wait))
        await self.finish.wait()


async def ready() -> bool:
    return True


@pytest.fixture
async def here(redis_prefix: str) -> AsyncIterator[Stores]:
    stores = redis_stores(REDIS_URL, prefix=redis_prefix, consumer="here")
    yield stores
    await stores.close()


@pytest.fixture
async def elsewhere(redis_prefix: str) -> AsyncIterator[Stores]:
    stores = redis_stores(REDIS_URL, prefix=redis_prefix, consumer="elsewhere")
    yield stores
    await stores.close()


@pytest.fixture
async def drainer(here: Stores) -> AsyncIterator[tuple[Drainer, Passes]]:
    passes = Passes()
    running = Drainer(here, passes, rasa_ready=ready, interval_s=3600)
    await running.start()
    yield running, passes
    await running.stop()


@pytest.fixture
async def notices(redis_prefix: str) -> AsyncIterator[Callable[[], Awaitable[tuple[bool, int]]]]:
    """Whether every work notice posted was handed out, and how many of them are unacknowledged."""
    client = aioredis.Redis.from_url(REDIS_URL)
    stream = redis_prefix + "work"

    async def check() -> tuple[bool, int]:
        last = (await client.xinfo_stream(stream))["last-generated-id"]
        groups = await client.xinfo_groups(stream)
        if not groups:
            return False, 0
        return groups[0]["last-delivered-id"] == last, int(groups[0]["pending"])

    yield check
    await client.aclose()


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(5):
        while not await condition():
            await asyncio.sleep(0.01)


async def test_an_own_notice_is_acknowledged_without_a_second_pass(
        drainer: tuple[Drainer, Passes], here: Stores,
        notices: Callable[[], Awaitable[tuple[bool, int]]]) -> None:
    running, passes = drainer
    await here.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    running.schedule("c1")  # what engine.accept does right after the append

    async def handed_out_and_acknowledged() -> bool:
        return await notices() == (True, 0)

    await until(handed_out_and_acknowledged)  # while the pass is still on
    passes.finish.set()
    await running.idle()
    assert passes.calls == [("c1", True)]


async def test_another_instances_notice_starts_a_pass_that_gives_way(
        drainer: tuple[Drainer, Passes], elsewhere: Stores,
        notices: Callable[[], Awaitable[tuple[bool, int]]]) -> None:
    running, passes = drainer
    passes.finish.set()
    await elsewhere.journal.append(inbound("c1", "m1"), dedupe_key="m1")

    async def acknowledged() -> bool:  # once the pass is over
        return await notices() == (True, 0)

    await until(acknowledged)
    await running.idle()
    assert passes.calls == [("c1", False)]
