"""Work notices and live notifications."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.stores import Stores
from tests.stores.conftest import inbound


async def test_an_appended_message_is_announced_as_work(stores: Stores) -> None:
    await stores.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    tickets = await stores.work.next(timeout_s=1)
    assert [t.conversation_id for t in tickets] == ["c1"]
    for ticket in tickets:
        await stores.work.done(ticket)


async def test_no_work_returns_empty_after_the_timeout(stores: Stores) -> None:
    assert await stores.work.next(timeout_s=0.05) == []


async def test_a_notice_is_handed_out_once(stores: Stores) -> None:
    await stores.work.notify("c1")
    first = await stores.work.next(timeout_s=1)
    assert [t.conversation_id for t in first] == ["c1"]
    assert await stores.work.next(timeout_s=0.05) == []


async def test_published_messages_reach_subscribers(stores: Stores) -> None:
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(message: dict[str, Any]) -> None:
        await got.put(message)

    stores.bus.subscribe("case-events", handler)
    await stores.bus.publish("case-events", {"kind": "opened"})
    assert await asyncio.wait_for(got.get(), 2) == {"kind": "opened"}


async def test_conversation_lock_serialises_one_conversation(stores: Stores) -> None:
    inside, overlaps = 0, 0

    async def critical() -> None:
        nonlocal inside, overlaps
        async with stores.locks.hold("c1"):
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(critical() for _ in range(5)))
    assert overlaps == 0


async def test_conversation_lock_does_not_block_other_conversations(stores: Stores) -> None:
    async with stores.locks.hold("c1"):
        async def other() -> None:
            async with stores.locks.hold("c2"):
                pass
        await asyncio.wait_for(other(), timeout=1)


async def test_try_hold_does_not_wait_for_a_held_lock(stores: Stores) -> None:
    async with stores.locks.hold("c1"):
        async with stores.locks.try_hold("c1") as got:
            assert got is False
    async with stores.locks.try_hold("c1") as got:
        assert got is True
