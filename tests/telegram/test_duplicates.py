"""Telegram redelivers an update until it gets a 200, a restarted poller re-reads unconfirmed
updates, and a captured update can be replayed with the right secret: each is answered once.
Updates are de-duplicated by update_id, and messages also by chat_id:message_id."""

from __future__ import annotations

import asyncio

from tests.telegram.conftest import Gateway


async def test_a_redelivered_update_is_answered_once(gateway: Gateway) -> None:
    update = gateway.updates.message("where is my parcel")
    assert [await gateway.post(update) for _ in range(3)] == [200, 200, 200]
    await gateway.replies(1)
    await gateway.settle()
    assert gateway.rasa.texts() == ["where is my parcel"]
    assert len(gateway.api.sent()) == 1


async def test_concurrent_deliveries_of_one_update_are_answered_once(gateway: Gateway) -> None:
    update = gateway.updates.message("where is my parcel")
    statuses = await asyncio.gather(*(gateway.post(update) for _ in range(5)))
    assert set(statuses) == {200}
    await gateway.replies(1)
    await gateway.settle()
    assert gateway.rasa.texts() == ["where is my parcel"]
    assert len(gateway.api.sent()) == 1


async def test_the_same_message_under_another_update_id_is_answered_once(gateway: Gateway) -> None:
    first = gateway.updates.message("where is my parcel")
    again = {**first, "update_id": first["update_id"] + 1000}
    assert await gateway.post(first) == 200
    assert await gateway.post(again) == 200
    await gateway.replies(1)
    await gateway.settle()
    assert gateway.rasa.texts() == ["where is my parcel"]


async def test_distinct_messages_are_each_answered_in_order(gateway: Gateway) -> None:
    for text in ("one", "two", "three"):
        await gateway.say(text)
    replies = await gateway.replies(3)
    assert [r["text"] for r in replies] == ["You said: one", "You said: two", "You said: three"]
