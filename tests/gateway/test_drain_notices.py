"""Which work notices start a drain: the instance that journals a message drains it at once, so
its own notice, coming back while that drain runs, is acknowledged when the drain is through
instead of starting another pass; another instance's notice (or an own one with nobody on the
conversation) starts a pass that does not wait for the conversation's lock. A notice whose pass
failed stays unacknowledged, for a reclaim. Two instances on the real Redis."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.drain import Drainer
from bot.stores import Stores, redis_stores
from tests.conftest import REDIS_URL
from tests.stores.conftest import inbound


class Passes:
    """A drain that records each pass: (conversation, whether it waited for the lock). A pass
    lasts until `finish` is set, as a real one lasts a Rasa turn: longer than a notice takes;
    with `fail` set, it ends as when the store is away."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.finish = asyncio.Event()
        self.fail = False

    async def __call__(self, conversation_id: str, wait: bool) -> None:
        self.calls.append((conversation_id, wait))
        await self.finish.wait()
        if self.fail:
            raise RedisConnectionError("Redis went away")


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
    # engine.accept appends, then schedules; here the pass is on before the notice can come
    # back, as it is in production, where a pass lasts a Rasa turn.
    running.schedule("c1")
    await here.journal.append(inbound("c1", "m1"), dedupe_key="m1")

    async def handed_out() -> bool:
        return (await notices())[0]

    await until(handed_out)
    assert await notices() == (True, 1)  # held until the pass is through
    passes.finish.set()
    await running.idle()
    assert passes.calls == [("c1", True)]
    assert await notices() == (True, 0)


@pytest.mark.parametrize("posted_by", ["elsewhere", "here"])
async def test_a_notice_nobody_is_working_on_starts_a_pass_that_does_not_wait(
        drainer: tuple[Drainer, Passes], here: Stores, elsewhere: Stores, posted_by: str,
        notices: Callable[[], Awaitable[tuple[bool, int]]]) -> None:
    """Another instance's message, or ours when accept could not schedule its drain."""
    running, passes = drainer
    passes.finish.set()
    poster = here if posted_by == "here" else elsewhere
    await poster.journal.append(inbound("c1", "m1"), dedupe_key="m1")

    async def acknowledged() -> bool:  # once the pass is over
        return await notices() == (True, 0)

    await until(acknowledged)
    await running.idle()
    assert passes.calls == [("c1", False)]


async def test_an_own_notice_stays_unacknowledged_when_its_pass_fails(
        drainer: tuple[Drainer, Passes], here: Stores,
        notices: Callable[[], Awaitable[tuple[bool, int]]]) -> None:
    running, passes = drainer
    passes.fail = True
    running.schedule("c1")
    await here.journal.append(inbound("c1", "m1"), dedupe_key="m1")

    async def handed_out() -> bool:
        return (await notices())[0]

    await until(handed_out)
    passes.finish.set()
    await running.idle()
    assert passes.calls == [("c1", True)]
    assert await notices() == (True, 1)  # reclaimed after claim_idle_ms by whoever is alive
