"""Everything kept expires: the SQLite stores sweep, Redis keys carry TTLs."""

from __future__ import annotations

from bot.stores import Stores
from tests.stores.conftest import Backend, a_case, inbound


async def seed(stores: Stores) -> None:
    await stores.conversations.update("c1", channel="web")
    await stores.transcripts.append("c1", {"id": "1", "text": "hello"}, limit=10)
    await stores.cases.create(a_case("C-1", "c1"))
    await stores.audit.record({"action": "view"})
    await stores.journal.append(inbound("c1", "m1"), dedupe_key="m1")


async def test_nothing_is_kept_past_its_retention(short_lived: Backend) -> None:
    stores = short_lived.stores
    await seed(stores)
    await short_lived.elapse(2.5)
    await stores.sweep()
    assert not await stores.conversations.exists("c1")
    assert await stores.transcripts.recent("c1", limit=10) == []
    assert await stores.cases.get("C-1") is None
    assert await stores.cases.waiting() == []
    assert await stores.journal.entries("c1") == []
    assert await stores.journal.conversations() == []  # nothing left for the sweep to retry
    assert await stores.idempotency.first_seen("m1", ttl_s=60) is True


async def test_the_audit_log_forgets_old_entries(short_lived: Backend) -> None:
    stores = short_lived.stores
    await stores.audit.record({"action": "old"})
    await short_lived.elapse(2.5)
    await stores.audit.record({"action": "new"})
    await stores.sweep()
    assert [e["action"] for e in await stores.audit.recent(limit=10)] == ["new"]


async def test_what_is_kept_within_its_retention_stays(short_lived: Backend) -> None:
    stores = short_lived.stores
    await seed(stores)
    await short_lived.elapse(0.5)
    await stores.sweep()
    assert await stores.conversations.exists("c1")
    assert len(await stores.transcripts.recent("c1", limit=10)) == 1
    assert await stores.cases.get("C-1") is not None
    assert len(await stores.journal.entries("c1")) == 1
