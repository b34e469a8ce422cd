"""Background tasks stop even when a library below them swallows a cancellation (redis-py's
asyncio client has): shutdown never hangs on them."""

from __future__ import annotations

import asyncio

from bot.cancellation import cancel_and_wait, cancel_requested
from bot.drain import Drainer
from bot.stores import memory_stores


async def swallowing_call() -> None:
    """What a library that catches CancelledError does: the caller's cancel never arrives."""
    try:
        await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        pass


async def test_a_loop_that_checks_sees_a_swallowed_cancellation() -> None:
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while not cancel_requested():
            rounds += 1
            await swallowing_call()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.wait_for(task, 2)
    assert rounds == 1


async def test_cancel_and_wait_cancels_again_a_task_that_swallowed_the_first() -> None:
    async def stubborn() -> None:
        await swallowing_call()  # the first cancel is lost here
        await asyncio.sleep(3600)  # the second one ends it

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    assert await cancel_and_wait([task], round_s=0.05, first_round_s=0.05) == []
    assert task.cancelled()


async def test_cancel_and_wait_reports_a_task_that_never_stops() -> None:
    immortal = True

    async def stubborn() -> None:
        while immortal:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    assert await cancel_and_wait([task], rounds=3, round_s=0.01, first_round_s=0.01) == [task]
    immortal = False
    await cancel_and_wait([task], round_s=0.01, first_round_s=0.01)


async def test_cancel_and_wait_leaves_time_for_clean_up_before_cancelling_again() -> None:
    cleaned = False

    async def tidy() -> None:
        nonlocal cleaned
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.2)  # e.g. releasing a lock: must not be cut short
            cleaned = True

    task = asyncio.create_task(tidy())
    await asyncio.sleep(0.01)
    assert await cancel_and_wait([task], round_s=0.01, first_round_s=1.0) == []
    assert cleaned


async def test_the_drainer_stops_although_its_sweep_swallowed_the_cancellation() -> None:
    stores = memory_stores()
    await stores.start()
    conversations = stores.journal.conversations
    inside = asyncio.Event()
    swallowed = False

    async def swallowing_conversations() -> list[str]:
        nonlocal swallowed
        inside.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True  # the library loses the first cancel
        return await conversations()

    async def drain(conversation_id: str, wait: bool) -> None:
        pass

    async def ready() -> bool:
        return True

    drainer = Drainer(stores, drain, rasa_ready=ready, interval_s=0.0)
    await drainer.start()  # it reads the journal once to resume: not through the swallower
    stores.journal.conversations = swallowing_conversations  # type: ignore[method-assign]
    await asyncio.wait_for(inside.wait(), 5)  # the sweep is inside the swallowing call
    stopping = asyncio.create_task(drainer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert done, "the drainer did not stop"
    assert swallowed
    await stores.close()
