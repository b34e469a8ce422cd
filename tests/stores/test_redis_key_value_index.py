"""On Redis, listing a key-value namespace reads that namespace's index, not the database: the
drain's sweep lists the pending pause/resume namespace every few seconds, and a SCAN would walk
every conversation, transcript and case in a shared Redis (it stalled every command behind it).
Only namespaces put with listed=True are indexed, and an index keeps no id for long after its
value has expired."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.stores.redis import RedisKeyValueStore
from tests.conftest import REDIS_URL


class CommandSpy(aioredis.Redis):
    """The real client, noting the name of every command it sends outside a pipeline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: list[str] = []

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands.append(str(args[0]).upper())
        return await super().execute_command(*args, **options)


@pytest.fixture
async def spy() -> AsyncIterator[CommandSpy]:
    client = CommandSpy.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def kv(spy: CommandSpy, redis_prefix: str) -> RedisKeyValueStore:
    return RedisKeyValueStore(spy, redis_prefix)


async def test_listing_a_namespace_sends_no_scan(kv: RedisKeyValueStore, spy: CommandSpy,
                                                 redis_prefix: str) -> None:
    for i in range(50):  # other state in the same database
        await spy.set(f"{redis_prefix}conversation:web:{i}", "x", ex=60)
    await kv.put("rasa-control", "web:7", True, ttl_s=60, listed=True)
    spy.commands.clear()
    assert await kv.keys("rasa-control") == ["web:7"]
    assert "SCAN" not in spy.commands


async def test_a_deleted_key_leaves_the_listing(kv: RedisKeyValueStore) -> None:
    await kv.put("agent-presence", "ana|gw-1", True, ttl_s=60, listed=True)
    await kv.put("agent-presence", "bo|gw-2", True, ttl_s=60, listed=True)
    await kv.delete("agent-presence", "ana|gw-1")
    assert await kv.keys("agent-presence") == ["bo|gw-2"]


def index(spy: CommandSpy, prefix: str, namespace: str) -> Any:
    return spy.zrange(f"{prefix}kv-index:{namespace}", 0, -1)


async def test_the_next_put_drops_an_expired_id_from_the_index(
        kv: RedisKeyValueStore, spy: CommandSpy, redis_prefix: str) -> None:
    await kv.put("rasa-control", "sms:+15550100", True, ttl_s=1, listed=True)
    await kv.put("rasa-control", "web:1", True, ttl_s=60, listed=True)
    await asyncio.sleep(1.2)
    await kv.put("rasa-control", "web:2", True, ttl_s=60, listed=True)
    assert await index(spy, redis_prefix, "rasa-control") == [b"web:1", b"web:2"]


async def test_listing_drops_an_expired_id_from_the_index(
        kv: RedisKeyValueStore, spy: CommandSpy, redis_prefix: str) -> None:
    await kv.put("rasa-control", "sms:+15550100", True, ttl_s=1, listed=True)
    await kv.put("rasa-control", "web:1", True, ttl_s=60, listed=True)
    await asyncio.sleep(1.2)
    assert await kv.keys("rasa-control") == ["web:1"]
    assert await index(spy, redis_prefix, "rasa-control") == [b"web:1"]


async def test_the_index_expires_with_its_last_value(kv: RedisKeyValueStore, spy: CommandSpy,
                                                     redis_prefix: str) -> None:
    await kv.put("agent-presence", "ana|gw-1", True, ttl_s=1, listed=True)
    await asyncio.sleep(1.2)
    assert await spy.exists(f"{redis_prefix}kv-index:agent-presence") == 0


async def test_the_index_lives_as_long_as_its_longest_value(kv: RedisKeyValueStore,
                                                            spy: CommandSpy,
                                                            redis_prefix: str) -> None:
    await kv.put("ns", "long", True, ttl_s=600, listed=True)
    await kv.put("ns", "short", True, ttl_s=5, listed=True)
    assert 595 <= await spy.ttl(f"{redis_prefix}kv-index:ns") <= 600


async def test_a_namespace_that_is_not_listed_has_no_index(kv: RedisKeyValueStore,
                                                           spy: CommandSpy,
                                                           redis_prefix: str) -> None:
    await kv.put("console-login", "ana@example.com", {"failures": [1.0]}, ttl_s=60)
    assert await kv.get("console-login", "ana@example.com") == {"failures": [1.0]}
    assert await spy.exists(f"{redis_prefix}kv-index:console-login") == 0
