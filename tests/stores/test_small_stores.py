"""Idempotency marks, sessions, transcripts, the key-value namespaces and the audit log."""

from __future__ import annotations

import asyncio

from bot.stores import Stores
from tests.stores.conftest import Backend


async def test_idempotency_key_is_new_only_once(stores: Stores) -> None:
    assert await stores.idempotency.first_seen("k1", ttl_s=60) is True
    assert await stores.idempotency.first_seen("k1", ttl_s=60) is False
    assert await stores.idempotency.first_seen("k2", ttl_s=60) is True


async def test_idempotency_key_is_new_again_after_its_ttl(backend: Backend) -> None:
    assert await backend.stores.idempotency.first_seen("short", ttl_s=1) is True
    await backend.elapse(1.2)
    assert await backend.stores.idempotency.first_seen("short", ttl_s=1) is True


async def test_concurrent_claims_of_one_key_have_one_winner(stores: Stores) -> None:
    results = await asyncio.gather(*(stores.idempotency.first_seen("race", ttl_s=60)
                                     for _ in range(20)))
    assert results.count(True) == 1


async def test_session_maps_token_to_its_owner(stores: Stores) -> None:
    assert await stores.sessions.get("tok") is None
    await stores.sessions.put("tok", "web:1", ttl_s=60)
    assert await stores.sessions.get("tok") == "web:1"


async def test_session_expires(backend: Backend) -> None:
    await backend.stores.sessions.put("tok", "web:1", ttl_s=1)
    await backend.elapse(1.2)
    assert await backend.stores.sessions.get("tok") is None


async def test_session_can_be_revoked(stores: Stores) -> None:
    await stores.sessions.put("tok", "agent:ana", ttl_s=60)
    await stores.sessions.delete("tok")
    assert await stores.sessions.get("tok") is None


async def test_every_session_of_an_owner_can_be_forgotten(stores: Stores) -> None:
    await stores.sessions.put("tab-1", "web:1", ttl_s=60)
    await stores.sessions.put("tab-2", "web:1", ttl_s=60)
    await stores.sessions.put("other", "web:2", ttl_s=60)
    assert await stores.sessions.delete_for("web:1") == 2
    assert [await stores.sessions.get(t) for t in ("tab-1", "tab-2", "other")] == [
        None, None, "web:2"]


async def test_transcript_keeps_order_and_newest_entries(stores: Stores) -> None:
    for i in range(5):
        await stores.transcripts.append("c", {"id": str(i), "text": f"m{i}"}, limit=3)
    recent = await stores.transcripts.recent("c", limit=10)
    assert [e["id"] for e in recent] == ["2", "3", "4"]
    assert [e["id"] for e in await stores.transcripts.recent("c", limit=2)] == ["3", "4"]


async def test_transcript_of_unknown_conversation_is_empty(stores: Stores) -> None:
    assert await stores.transcripts.recent("nobody", limit=5) == []


async def test_transcript_can_be_deleted(stores: Stores) -> None:
    await stores.transcripts.append("c", {"id": "1", "text": "hello"}, limit=10)
    await stores.transcripts.delete("c")
    assert await stores.transcripts.recent("c", limit=10) == []


async def test_key_value_namespaces_are_separate(stores: Stores) -> None:
    await stores.kv.put("console-login", "ana", {"failures": [1.0]}, ttl_s=60)
    assert await stores.kv.get("console-login", "ana") == {"failures": [1.0]}
    assert await stores.kv.get("slack-inbox", "ana") is None
    await stores.kv.delete("console-login", "ana")
    assert await stores.kv.get("console-login", "ana") is None


async def test_key_value_expires(backend: Backend) -> None:
    await backend.stores.kv.put("ns", "k", 1, ttl_s=1)
    await backend.elapse(1.2)
    assert await backend.stores.kv.get("ns", "k") is None


async def test_audit_log_keeps_entries_in_order(stores: Stores) -> None:
    for i in range(3):
        await stores.audit.record({"action": f"a{i}"})
    assert [e["action"] for e in await stores.audit.recent(limit=2)] == ["a1", "a2"]


async def test_key_value_namespace_lists_its_live_keys(backend: Backend) -> None:
    stores = backend.stores
    await stores.kv.put("rasa-control", "sms:+1555", True, ttl_s=60, listed=True)
    await stores.kv.put("rasa-control", "web:1", True, ttl_s=1, listed=True)
    await stores.kv.put("other", "web:2", True, ttl_s=60, listed=True)
    assert await stores.kv.keys("rasa-control") == ["sms:+1555", "web:1"]
    await backend.elapse(1.2)
    assert await stores.kv.keys("rasa-control") == ["sms:+1555"]
