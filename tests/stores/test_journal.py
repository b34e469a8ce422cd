"""The intake journal: an acknowledged message is recorded with its idempotency mark in one write,
kept in arrival order with its progress, and gone once answered."""

from __future__ import annotations

import asyncio

from bot.stores import Progress, Stores
from tests.stores.conftest import inbound


async def test_append_records_the_whole_message(stores: Stores) -> None:
    message = inbound("c1", "m1", text="where is my order 482913")
    entry = await stores.journal.append(message, dedupe_key="web:m1")
    assert entry is not None and entry.progress is Progress.RECEIVED
    assert [e.message for e in await stores.journal.entries("c1")] == [message]


async def test_a_duplicate_is_refused_and_not_recorded(stores: Stores) -> None:
    assert await stores.journal.append(inbound("c1", "m1"), dedupe_key="web:m1") is not None
    assert await stores.journal.append(inbound("c1", "m1"), dedupe_key="web:m1") is None
    assert len(await stores.journal.entries("c1")) == 1


async def test_the_mark_outlives_the_entry(stores: Stores) -> None:
    entry = await stores.journal.append(inbound("c1", "m1"), dedupe_key="web:m1")
    await stores.journal.remove(entry)
    assert await stores.journal.append(inbound("c1", "m1"), dedupe_key="web:m1") is None
    assert await stores.idempotency.first_seen("web:m1", ttl_s=60) is False


async def test_concurrent_duplicates_record_one_entry(stores: Stores) -> None:
    results = await asyncio.gather(*(stores.journal.append(inbound("c1", "m1"),
                                                           dedupe_key="web:m1")
                                     for _ in range(10)))
    assert sum(r is not None for r in results) == 1
    assert len(await stores.journal.entries("c1")) == 1


async def test_entries_keep_arrival_order_per_conversation(stores: Stores) -> None:
    for i in range(5):
        await stores.journal.append(inbound("c1", f"a{i}"), dedupe_key=f"a{i}")
        await stores.journal.append(inbound("c2", f"b{i}"), dedupe_key=f"b{i}")
    assert [e.message.platform_message_id for e in await stores.journal.entries("c1")] == [
        f"a{i}" for i in range(5)]
    assert await stores.journal.conversations() == ["c1", "c2"]


async def test_progress_survives_a_reread(stores: Stores) -> None:
    entry = await stores.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    advanced = entry.advance(Progress.ANSWERED, rasa_text="hi", trigger={"kind": "vip"},
                             replies=({"text": "Hello!", "buttons": []},), failures=2)
    await stores.journal.save(advanced)
    assert await stores.journal.entries("c1") == [advanced]


async def test_a_conversation_without_entries_is_not_listed(stores: Stores) -> None:
    first = await stores.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    second = await stores.journal.append(inbound("c1", "m2"), dedupe_key="m2")
    await stores.journal.remove(first)
    assert await stores.journal.conversations() == ["c1"]
    await stores.journal.remove(second)
    assert await stores.journal.conversations() == []
    assert await stores.journal.entries("c1") == []


async def test_a_removed_entry_is_not_resurrected_by_a_late_save(stores: Stores) -> None:
    entry = await stores.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    await stores.journal.remove(entry)
    await stores.journal.save(entry.advance(Progress.AT_RASA))
    assert await stores.journal.entries("c1") == []


async def test_a_conversations_entries_can_be_deleted(stores: Stores) -> None:
    await stores.journal.append(inbound("c1", "m1"), dedupe_key="m1")
    await stores.journal.append(inbound("c2", "m2"), dedupe_key="m2")
    assert await stores.journal.delete_for("c1") == 1
    assert await stores.journal.conversations() == ["c2"]
