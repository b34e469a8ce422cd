"""Two gateway instances on one Redis share state, locks, work and live notifications."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from bot.stores import Stores, redis_stores
from tests.conftest import REDIS_URL
from tests.stores.conftest import inbound


@pytest.fixture
async def pair(redis_prefix: str) -> AsyncIterator[tuple[Stores, Stores]]:
    first = redis_stores(REDIS_URL, prefix=redis_prefix, consumer="first")
    # The second takes over work the first left for 0 ms (30 s in production).
    second = redis_stores(REDIS_URL, prefix=redis_prefix, consumer="second", claim_idle_ms=0)
    yield first, second
    await first.close()
    await second.close()


async def test_a_delivery_is_new_to_only_one_instance(pair: tuple[Stores, Stores]) -> None:
    first, second = pair
    results = await asyncio.gather(
        first.journal.append(inbound("c1", "m1"), dedupe_key="slack:m1"),
        second.journal.append(inbound("c1", "m1"), dedupe_key="slack:m1"))
    assert sum(r is not None for r in results) == 1


async def test_each_work_notice_goes_to_one_instance(pair: tuple[Stores, Stores]) -> None:
    first, second = pair
    for i in range(10):
        await first.journal.append(inbound(f"c{i}", f"m{i}"), dedupe_key=f"m{i}")
    got = await asyncio.gather(first.work.next(timeout_s=0.5), second.work.next(timeout_s=0.5))
    ids = [t.ticket_id for tickets in got for t in tickets]
    assert len(ids) == 10 and len(set(ids)) == 10


async def test_a_notice_is_ours_only_on_the_instance_that_posted_it(
        pair: tuple[Stores, Stores]) -> None:
    first, second = pair
    await first.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    await second.journal.append(inbound("c2", "m2"), dedupe_key="m2")
    await first.work.notify("c3")
    tickets = await first.work.next(timeout_s=1)
    assert {t.conversation_id: t.ours for t in tickets} == {"c1": True, "c2": False, "c3": True}


async def test_a_reclaimed_notice_is_never_ours(pair: tuple[Stores, Stores]) -> None:
    first, second = pair
    await second.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    assert [t.ours for t in await second.work.next(timeout_s=1)] == [True]  # then it dies
    reclaimed = await second.work.reclaim()  # the same consumer name after a restart
    assert [(t.conversation_id, t.ours) for t in reclaimed] == [("c1", False)]


async def test_work_taken_by_a_dead_instance_is_reclaimed(pair: tuple[Stores, Stores]) -> None:
    first, second = pair
    await first.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    taken = await first.work.next(timeout_s=1)  # and then `first` dies without done()
    assert [t.conversation_id for t in taken] == ["c1"]
    reclaimed = await second.work.reclaim()
    assert [t.conversation_id for t in reclaimed] == ["c1"]


async def test_the_lock_is_exclusive_across_instances(pair: tuple[Stores, Stores]) -> None:
    first, second = pair
    order: list[str] = []

    async def hold(stores: Stores, name: str) -> None:
        async with stores.locks.hold("shared"):
            order.append(f"{name} in")
            await asyncio.sleep(0.1)
            order.append(f"{name} out")

    await asyncio.gather(hold(first, "a"), hold(second, "b"))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


async def test_live_notifications_reach_every_instance(pair: tuple[Stores, Stores]) -> None:
    first, second = pair
    got: dict[str, asyncio.Queue[dict[str, Any]]] = {"first": asyncio.Queue(),
                                                     "second": asyncio.Queue()}
    for name, stores in (("first", first), ("second", second)):
        async def handler(message: dict[str, Any], name: str = name) -> None:
            await got[name].put(message)
        stores.bus.subscribe("case-events", handler)
        await stores.start()
    await first.bus.publish("case-events", {"kind": "claimed"})
    assert await asyncio.wait_for(got["first"].get(), 2) == {"kind": "claimed"}
    assert await asyncio.wait_for(got["second"].get(), 2) == {"kind": "claimed"}
