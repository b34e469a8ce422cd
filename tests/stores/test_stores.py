"""Every store interface behaves the same in-process and on the real Redis."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest

from bot.messages import InboundMessage
from bot.stores import Stores, memory_stores, redis_stores
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Stores]:
    built = memory_stores() if request.param == "memory" else redis_stores(REDIS_URL, prefix=redis_prefix)
    yield built
    await built.close()


def inbound(cid: str, mid: str, text: str = "hi") -> InboundMessage:
    return InboundMessage(channel="web", conversation_id=cid, customer_id=cid, text=text,
                          platform_message_id=mid, received_at=1.0)


async def test_idempotency_key_is_new_only_once(stores: Stores) -> None:
    assert await stores.idempotency.first_seen("k1", ttl_s=60) is True
    assert await stores.idempotency.first_seen("k1", ttl_s=60) is False
    assert await stores.idempotency.first_seen("k2", ttl_s=60) is True


async def test_idempotency_key_is_new_again_after_its_ttl(stores: Stores) -> None:
    assert await stores.idempotency.first_seen("short", ttl_s=1) is True
    await asyncio.sleep(1.2)
    assert await stores.idempotency.first_seen("short", ttl_s=1) is True


async def test_concurrent_claims_of_one_key_have_one_winner(stores: Stores) -> None:
    results = await asyncio.gather(*(stores.idempotency.first_seen("race", ttl_s=60) for _ in range(20)))
    assert results.count(True) == 1


async def test_session_maps_token_to_conversation(stores: Stores) -> None:
    assert await stores.sessions.get("tok") is None
    await stores.sessions.put("tok", "web:1", ttl_s=60)
    assert await stores.sessions.get("tok") == "web:1"


async def test_session_expires(stores: Stores) -> None:
    await stores.sessions.put("tok", "web:1", ttl_s=1)
    await asyncio.sleep(1.2)
    assert await stores.sessions.get("tok") is None


async def test_transcript_keeps_order_and_newest_entries(stores: Stores) -> None:
    for i in range(5):
        await stores.transcripts.append("c", {"id": str(i), "text": f"m{i}"}, limit=3)
    recent = await stores.transcripts.recent("c", limit=10)
    assert [e["id"] for e in recent] == ["2", "3", "4"]
    assert [e["id"] for e in await stores.transcripts.recent("c", limit=2)] == ["3", "4"]


async def test_transcript_of_unknown_conversation_is_empty(stores: Stores) -> None:
    assert await stores.transcripts.recent("nobody", limit=5) == []


async def test_conversation_update_merges_fields(stores: Stores) -> None:
    assert await stores.conversations.get("c") == {}
    await stores.conversations.update("c", {"channel": "web", "n": 1})
    state = await stores.conversations.update("c", {"n": 2, "buttons": [{"title": "a"}]})
    assert state == {"channel": "web", "n": 2, "buttons": [{"title": "a"}]}
    assert await stores.conversations.get("c") == state


async def test_conversation_state_returned_is_a_copy(stores: Stores) -> None:
    await stores.conversations.update("c", {"items": [1]})
    state = await stores.conversations.get("c")
    state["items"].append(2)
    assert await stores.conversations.get("c") == {"items": [1]}


async def test_pending_keeps_messages_in_order_without_duplicates(stores: Stores) -> None:
    for mid in ("a", "b", "a", "c"):
        await stores.pending.add(inbound("c1", mid, text=f"text {mid}"))
    assert [m.platform_message_id for m in await stores.pending.peek("c1")] == ["a", "b", "c"]
    assert await stores.pending.conversations() == ["c1"]


async def test_pending_round_trips_the_whole_message(stores: Stores) -> None:
    original = inbound("c1", "a", text="where is my order 482913")
    await stores.pending.add(original)
    assert await stores.pending.peek("c1") == [original]


async def test_pending_conversation_disappears_when_emptied(stores: Stores) -> None:
    await stores.pending.add(inbound("c1", "a"))
    await stores.pending.add(inbound("c1", "b"))
    await stores.pending.remove("c1", "a")
    assert [m.platform_message_id for m in await stores.pending.peek("c1")] == ["b"]
    await stores.pending.remove("c1", "b")
    assert await stores.pending.conversations() == []
    assert await stores.pending.peek("c1") == []


def a_case(case_id: str, conversation_id: str, status: str = "queued") -> dict:
    return {"case_id": case_id, "conversation_id": conversation_id, "status": status,
            "package": {"transcript": [], "steps_tried": []}, "opened_at": 1.0}


async def test_case_is_created_queued_and_found_by_conversation(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    await stores.cases.create(a_case("C-2", "web:2"))
    assert await stores.cases.open_case_for("web:2") == "C-2"
    assert await stores.cases.queue_position("C-1") == 1
    assert await stores.cases.queue_position("C-2") == 2
    assert await stores.cases.queued() == ["C-1", "C-2"]
    case = await stores.cases.get("C-1")
    assert case["conversation_id"] == "web:1" and case["status"] == "queued"
    assert case["package"] == {"transcript": [], "steps_tried": []}


async def test_unknown_case_reads_as_none(stores: Stores) -> None:
    assert await stores.cases.get("C-404") is None
    assert await stores.cases.queue_position("C-404") is None
    assert await stores.cases.open_case_for("web:none") is None
    assert await stores.cases.transition("C-404", from_statuses=("queued",),
                                         fields={"status": "active"}) is None


async def test_transition_applies_only_from_the_expected_status(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    claimed = await stores.cases.transition("C-1", from_statuses=("queued",),
                                            fields={"status": "active", "agent": "ana"})
    assert claimed["status"] == "active" and claimed["agent"] == "ana"
    assert await stores.cases.transition("C-1", from_statuses=("queued",),
                                         fields={"status": "active", "agent": "bo"}) is None
    assert (await stores.cases.get("C-1"))["agent"] == "ana"
    assert await stores.cases.queued() == []


async def test_concurrent_claims_have_exactly_one_winner(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    results = await asyncio.gather(*(
        stores.cases.transition("C-1", from_statuses=("queued",),
                                fields={"status": "active", "agent": f"agent-{i}"})
        for i in range(10)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (await stores.cases.get("C-1"))["agent"] == winners[0]["agent"]


@pytest.mark.parametrize("closing", ["resolved", "returned", "cancelled"])
async def test_closing_a_case_frees_the_conversation(stores: Stores, closing: str) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    await stores.cases.transition("C-1", from_statuses=("queued",), fields={"status": closing})
    assert await stores.cases.open_case_for("web:1") is None
    assert await stores.cases.get("C-1") is not None


async def test_follow_ups_are_served_before_the_queue(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    await stores.cases.create(a_case("C-2", "web:2", status="follow_up"))
    assert await stores.cases.queued() == ["C-2", "C-1"]
    assert await stores.cases.all_ids() == ["C-2", "C-1"]


async def test_state_fields_other_than_status_can_be_set(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    await stores.cases.update_state("C-1", {"csat": 5})
    assert (await stores.cases.get("C-1"))["csat"] == 5
    with pytest.raises(ValueError):
        await stores.cases.update_state("C-1", {"status": "resolved"})


async def test_audit_log_keeps_entries_in_order(stores: Stores) -> None:
    for i in range(3):
        await stores.audit.record({"action": f"a{i}"})
    assert [e["action"] for e in await stores.audit.recent(limit=2)] == ["a1", "a2"]


async def test_redis_state_is_shared_between_two_gateway_instances(redis_prefix: str) -> None:
    first, second = (redis_stores(REDIS_URL, prefix=redis_prefix) for _ in range(2))
    try:
        assert await first.idempotency.first_seen("delivery-1", ttl_s=60)
        assert not await second.idempotency.first_seen("delivery-1", ttl_s=60)
        await first.sessions.put("tok", "web:9", ttl_s=60)
        assert await second.sessions.get("tok") == "web:9"
    finally:
        await first.close()
        await second.close()


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
        await asyncio.wait_for(_enter_and_leave(stores, "c2"), timeout=1)


async def _enter_and_leave(stores: Stores, conversation_id: str) -> None:
    async with stores.locks.hold(conversation_id):
        pass


async def test_redis_lock_is_exclusive_across_two_gateway_instances(redis_prefix: str) -> None:
    first, second = (redis_stores(REDIS_URL, prefix=redis_prefix) for _ in range(2))
    order: list[str] = []

    async def hold(stores: Stores, name: str) -> None:
        async with stores.locks.hold("shared"):
            order.append(f"{name} in")
            await asyncio.sleep(0.1)
            order.append(f"{name} out")

    try:
        await asyncio.gather(hold(first, "a"), hold(second, "b"))
    finally:
        await first.close()
        await second.close()
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
