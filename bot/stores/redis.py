"""Redis stores: what production uses and what several gateway instances share. Keys live under
one prefix; each store's key layout is documented where it is built."""

from __future__ import annotations

import asyncio
import json
import secrets
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from redis.asyncio import Redis

from bot.messages import InboundMessage
from bot.stores.base import STATE_FIELDS, Stores


class RedisIdempotencyStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p = redis, prefix + "seen:"

    async def first_seen(self, key: str, *, ttl_s: int) -> bool:
        return bool(await self._r.set(self._p + key, "1", nx=True, ex=ttl_s))


class RedisSessionStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p = redis, prefix + "session:"

    async def get(self, token: str) -> str | None:
        value = await self._r.get(self._p + token)
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, token: str, conversation_id: str, *, ttl_s: int) -> None:
        await self._r.set(self._p + token, conversation_id, ex=ttl_s)


class RedisTranscriptStore:
    """A capped list per conversation: RPUSH then LTRIM keeps the newest `limit` entries."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p = redis, prefix + "transcript:"

    async def append(self, conversation_id: str, entry: dict[str, Any], *, limit: int) -> None:
        key = self._p + conversation_id
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(entry))
            pipe.ltrim(key, -limit, -1)
            await pipe.execute()

    async def recent(self, conversation_id: str, *, limit: int) -> list[dict[str, Any]]:
        raw = await self._r.lrange(self._p + conversation_id, -limit, -1)
        return [json.loads(item) for item in raw]


class RedisConversationStore:
    """A hash per conversation, one JSON-encoded value per field (so updates never race on
    unrelated fields)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p = redis, prefix + "conversation:"

    async def get(self, conversation_id: str) -> dict[str, Any]:
        raw = await self._r.hgetall(self._p + conversation_id)
        return {_s(k): json.loads(v) for k, v in raw.items()}

    async def update(self, conversation_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        key = self._p + conversation_id
        async with self._r.pipeline(transaction=True) as pipe:
            if fields:
                pipe.hset(key, mapping={k: json.dumps(v) for k, v in fields.items()})
            pipe.hgetall(key)
            results = await pipe.execute()
        return {_s(k): json.loads(v) for k, v in results[-1].items()}


class RedisPendingStore:
    """Per conversation a hash id -> message plus a list for order; a set of conversations."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p = redis, prefix + "pending:"

    async def add(self, message: InboundMessage) -> None:
        cid = message.conversation_id
        added = await self._r.hsetnx(self._p + "msg:" + cid, message.platform_message_id,
                                     json.dumps(message.to_dict()))
        if added:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.rpush(self._p + "order:" + cid, message.platform_message_id)
                pipe.sadd(self._p + "conversations", cid)
                await pipe.execute()

    async def conversations(self) -> list[str]:
        return sorted(_s(c) for c in await self._r.smembers(self._p + "conversations"))

    async def peek(self, conversation_id: str) -> list[InboundMessage]:
        ids = await self._r.lrange(self._p + "order:" + conversation_id, 0, -1)
        if not ids:
            return []
        raw = await self._r.hmget(self._p + "msg:" + conversation_id, ids)
        return [InboundMessage.from_dict(json.loads(r)) for r in raw if r is not None]

    async def remove(self, conversation_id: str, platform_message_id: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hdel(self._p + "msg:" + conversation_id, platform_message_id)
            pipe.lrem(self._p + "order:" + conversation_id, 0, platform_message_id)
            pipe.hlen(self._p + "msg:" + conversation_id)
            remaining = (await pipe.execute())[-1]
        if not remaining:
            await self._r.srem(self._p + "conversations", conversation_id)


class RedisHandoffCaseStore:
    """case:<id> the JSON body; state:<id> a hash of JSON values (status, agent, ...);
    open:<conversation> the open case id; queue and followups lists of waiting ids; cases a list
    of every id, newest first. Status changes run in one Lua script (compare-and-set)."""

    _TRANSITION = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return 0 end
local n = tonumber(ARGV[1])
local ok = false
for i = 1, n do if ARGV[1 + i] == current then ok = true end end
if not ok then return 0 end
local case_id = ARGV[n + 2]
local new_status = ARGV[n + 3]
for i = n + 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('LREM', KEYS[2], 0, case_id)
redis.call('LREM', KEYS[3], 0, case_id)
if new_status == '"queued"' then redis.call('RPUSH', KEYS[2], case_id) end
if new_status == '"follow_up"' then redis.call('RPUSH', KEYS[3], case_id) end
if new_status == '"resolved"' or new_status == '"returned"' or new_status == '"cancelled"' then
  if redis.call('GET', KEYS[4]) == case_id then redis.call('DEL', KEYS[4]) end
end
return 1
"""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p = redis, prefix + "handoff:"

    def _keys(self, case_id: str, conversation_id: str) -> list[str]:
        return [self._p + "state:" + case_id, self._p + "queue", self._p + "followups",
                self._p + "open:" + conversation_id]

    async def create(self, case: dict[str, Any]) -> None:
        body = {k: v for k, v in case.items() if k not in STATE_FIELDS}
        state = {k: json.dumps(v) for k, v in case.items() if k in STATE_FIELDS}
        case_id, status = case["case_id"], case["status"]
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self._p + "case:" + case_id, json.dumps(body))
            pipe.hset(self._p + "state:" + case_id, mapping=state)
            pipe.set(self._p + "open:" + case["conversation_id"], case_id)
            pipe.lpush(self._p + "cases", case_id)
            if status in ("queued", "follow_up"):
                pipe.rpush(self._p + ("queue" if status == "queued" else "followups"), case_id)
            await pipe.execute()

    async def get(self, case_id: str) -> dict[str, Any] | None:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.get(self._p + "case:" + case_id)
            pipe.hgetall(self._p + "state:" + case_id)
            body, state = await pipe.execute()
        if body is None:
            return None
        return {**json.loads(body), **{_s(k): json.loads(v) for k, v in state.items()}}

    async def open_case_for(self, conversation_id: str) -> str | None:
        value = await self._r.get(self._p + "open:" + conversation_id)
        return _s(value) if value is not None else None

    async def transition(self, case_id: str, *, from_statuses: tuple[str, ...],
                         fields: dict[str, Any]) -> dict[str, Any] | None:
        case = await self.get(case_id)
        if case is None:
            return None
        pairs = [item for k, v in fields.items() for item in (k, json.dumps(v))]
        new_status = json.dumps(fields.get("status", case["status"]))
        changed = await self._r.eval(
            self._TRANSITION, 4, *self._keys(case_id, case["conversation_id"]),
            len(from_statuses), *(json.dumps(s) for s in from_statuses), case_id, new_status,
            *pairs)
        return await self.get(case_id) if changed else None

    async def update_state(self, case_id: str, fields: dict[str, Any]) -> None:
        if "status" in fields:
            raise ValueError("the status changes only through transition()")
        if fields:
            await self._r.hset(self._p + "state:" + case_id,
                               mapping={k: json.dumps(v) for k, v in fields.items()})

    async def queue_position(self, case_id: str) -> int | None:
        waiting = await self.queued()
        return waiting.index(case_id) + 1 if case_id in waiting else None

    async def queued(self) -> list[str]:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.lrange(self._p + "followups", 0, -1)
            pipe.lrange(self._p + "queue", 0, -1)
            follow_ups, queue = await pipe.execute()
        return [_s(c) for c in [*follow_ups, *queue]]

    async def all_ids(self) -> list[str]:
        return [_s(c) for c in await self._r.lrange(self._p + "cases", 0, 999)]


class RedisAuditLog:
    """A capped list (the newest 10,000 entries); ship it elsewhere for longer retention."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._key = redis, prefix + "audit"

    async def record(self, entry: dict[str, Any]) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.rpush(self._key, json.dumps(entry))
            pipe.ltrim(self._key, -10_000, -1)
            await pipe.execute()

    async def recent(self, *, limit: int) -> list[dict[str, Any]]:
        return [json.loads(e) for e in await self._r.lrange(self._key, -limit, -1)]


class RedisConversationLock:
    """SET NX PX with a random token; released only by its holder (compare-and-delete in Lua), and
    renewed while held so a long Rasa turn does not lose it. If a holder dies, the lock expires."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
    _RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
              "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0")

    def __init__(self, redis: Redis, prefix: str, *, ttl_ms: int = 30_000) -> None:
        self._r, self._p, self._ttl_ms = redis, prefix + "lock:", ttl_ms

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        key, token = self._p + conversation_id, secrets.token_hex(16)
        delay = 0.005
        while not await self._r.set(key, token, nx=True, px=self._ttl_ms):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        renew = asyncio.create_task(self._keep(key, token))
        try:
            yield
        finally:
            renew.cancel()
            await self._r.eval(self._RELEASE, 1, key, token)

    async def _keep(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            await self._r.eval(self._RENEW, 1, key, token, self._ttl_ms)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def redis_stores(url: str, *, prefix: str = "helpdesk:") -> Stores:
    redis = Redis.from_url(url)

    async def close() -> None:
        await redis.aclose()

    return Stores(
        kind="redis",
        idempotency=RedisIdempotencyStore(redis, prefix),
        sessions=RedisSessionStore(redis, prefix),
        transcripts=RedisTranscriptStore(redis, prefix),
        conversations=RedisConversationStore(redis, prefix),
        pending=RedisPendingStore(redis, prefix),
        cases=RedisHandoffCaseStore(redis, prefix),
        locks=RedisConversationLock(redis, prefix),
        audit=RedisAuditLog(redis, prefix),
        close=close,
    )
