"""Redis stores: what production uses and what several gateway instances share. Keys live under
one prefix and carry TTLs (Retention), so nothing is kept forever; each store documents its
layout. Operators enable persistence (AOF) on this Redis: the intake journal lives here, and an
acknowledged message must survive a Redis restart (docs/operations.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Collection, Mapping

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError, ResponseError

from bot.cancellation import cancel_and_wait, cancel_requested
from bot.messages import InboundMessage
from bot.state import (CASE_STATE_FIELDS, CLOSED, Case, CaseStatus, ConversationState,
                       check_conversation_fields)
from bot.stores.base import Handler, JournalEntry, Resumed, Retention, Stores, WorkTicket

log = logging.getLogger(__name__)

CHANNEL_FIELD = "channel_data."  # conversation hash fields of the channel's own namespace


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class RedisIdempotencyStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p = redis, prefix + "seen:"

    async def first_seen(self, key: str, *, ttl_s: int) -> bool:
        return bool(await self._r.set(self._p + key, "1", nx=True, ex=ttl_s))


class RedisSessionStore:
    """session:<token> -> value; session-of:<value> the set of its tokens (for erasure)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p, self._owner = redis, prefix + "session:", prefix + "session-of:"

    async def get(self, token: str) -> str | None:
        value = await self._r.get(self._p + token)
        return _s(value) if value is not None else None

    async def put(self, token: str, value: str, *, ttl_s: int) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self._p + token, value, ex=ttl_s)
            pipe.sadd(self._owner + value, token)
            pipe.expire(self._owner + value, ttl_s)
            await pipe.execute()

    async def delete(self, token: str) -> None:
        value = await self._r.get(self._p + token)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(self._p + token)
            if value is not None:
                pipe.srem(self._owner + _s(value), token)
            await pipe.execute()

    async def delete_for(self, value: str) -> int:
        tokens = [_s(t) for t in await self._r.smembers(self._owner + value)]
        async with self._r.pipeline(transaction=True) as pipe:
            for token in tokens:
                pipe.delete(self._p + token)
            pipe.delete(self._owner + value)
            results = await pipe.execute()
        return sum(int(r) for r in results[:len(tokens)])


class RedisTranscriptStore:
    """transcript:<conversation> a capped list (RPUSH then LTRIM), expiring after retention."""

    def __init__(self, redis: Redis, prefix: str, retention: Retention) -> None:
        self._r, self._p, self._ttl = redis, prefix + "transcript:", retention.transcripts_s

    async def append(self, conversation_id: str, entry: dict[str, Any], *, limit: int) -> None:
        key = self._p + conversation_id
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.rpush(key, _dumps(entry))
            pipe.ltrim(key, -limit, -1)
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def recent(self, conversation_id: str, *, limit: int) -> list[dict[str, Any]]:
        raw = await self._r.lrange(self._p + conversation_id, -limit, -1)
        return [json.loads(item) for item in raw]

    async def delete(self, conversation_id: str) -> None:
        await self._r.delete(self._p + conversation_id)


class RedisConversationStore:
    """conversation:<id> a hash, one JSON value per field (so updates of different fields never
    race); the channel's own data as channel_data.<key> fields. Expires after retention.

    `peek` and `exists` (a channel deciding how to accept a message: SMS opt-out, Slack
    threads, Telegram buttons) go over `intake`, the acknowledgement path's connections: in the
    shared pool they queued behind every conversation being drained (SMS acks of 140-200 ms at
    the end of a burst of 200)."""

    _SET = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""

    def __init__(self, redis: Redis, prefix: str, retention: Retention, *,
                 intake: Redis | None = None) -> None:
        self._r, self._p, self._ttl = redis, prefix + "conversation:", retention.conversations_s
        self._intake = intake or redis

    async def get(self, conversation_id: str) -> ConversationState:
        return _conversation(await self._r.hgetall(self._p + conversation_id))

    async def peek(self, conversation_id: str) -> ConversationState:
        return _conversation(await self._intake.hgetall(self._p + conversation_id))

    async def exists(self, conversation_id: str) -> bool:
        return bool(await self._intake.exists(self._p + conversation_id))

    async def update(self, conversation_id: str, **changes: Any) -> ConversationState:
        check_conversation_fields(changes)
        return await self._set(conversation_id, {k: _dumps(_plain(v)) for k, v in changes.items()})

    async def update_channel_data(self, conversation_id: str,
                                  changes: Mapping[str, Any]) -> ConversationState:
        return await self._set(conversation_id, {CHANNEL_FIELD + k: _dumps(_plain(v))
                                                 for k, v in changes.items()})

    async def _set(self, conversation_id: str, fields: dict[str, str]) -> ConversationState:
        key = self._p + conversation_id
        if not fields:
            return await self.get(conversation_id)
        # One script instead of MULTI, HSET, EXPIRE, HGETALL, EXEC: every turn updates the
        # conversation, and each command is a round of packing and parsing on the event loop.
        flat = await self._r.eval(self._SET, 1, key, self._ttl,
                                  *(item for pair in fields.items() for item in pair))
        return _conversation(dict(zip(flat[::2], flat[1::2])))

    async def delete(self, conversation_id: str) -> None:
        await self._r.delete(self._p + conversation_id)


def _conversation(raw: Mapping[Any, Any]) -> ConversationState:
    values: dict[str, Any] = {}
    channel: dict[str, Any] = {}
    for key, value in raw.items():
        name = _s(key)
        if name.startswith(CHANNEL_FIELD):
            channel[name[len(CHANNEL_FIELD):]] = json.loads(value)
        else:
            values[name] = json.loads(value)
    values["channel_data"] = channel
    return ConversationState.from_dict(values)


def _lua_sets(**sets: Collection[CaseStatus]) -> str:
    """Lua tables of statuses as stored (JSON strings): `local NAME = {['"queued"'] = true}`."""
    lines = []
    for name, statuses in sets.items():
        members = ", ".join(f"[{_lua_string(_dumps(str(s)))}] = true" for s in sorted(statuses))
        lines.append(f"local {name} = {{{members}}}")
    return "\n".join(lines)


def _lua_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class RedisHandoffCaseStore:
    """case:<id> the JSON body; state:<id> a hash of JSON values (status, agent, ...);
    open:<conversation> the open case id; by-conversation:<conversation> every case id of it;
    queue and followups lists of waiting ids; cases a capped list of ids, newest first. Status
    changes run in one Lua script (compare-and-set); everything expires after retention."""

    # Statuses are stored as JSON strings; the script's sets are built from the enum, so a new
    # status or a change to CLOSED needs no second spelling here.
    _TRANSITION = _lua_sets(CLOSED=CLOSED, QUEUE={CaseStatus.QUEUED},
                            FOLLOWUPS={CaseStatus.FOLLOW_UP}) + """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return 0 end
local n = tonumber(ARGV[1])
local ok = false
for i = 1, n do if ARGV[1 + i] == current then ok = true end end
if not ok then return 0 end
local case_id = ARGV[n + 2]
local new_status = ARGV[n + 3]
local ttl = ARGV[n + 4]
for i = n + 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'status', new_status)
redis.call('LREM', KEYS[2], 0, case_id)
redis.call('LREM', KEYS[3], 0, case_id)
if QUEUE[new_status] then redis.call('RPUSH', KEYS[2], case_id) end
if FOLLOWUPS[new_status] then redis.call('RPUSH', KEYS[3], case_id) end
if CLOSED[new_status] then
  if redis.call('GET', KEYS[4]) == case_id then redis.call('DEL', KEYS[4]) end
end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[5], ttl)
return 1
"""
    RECENT_CAP = 1000

    def __init__(self, redis: Redis, prefix: str, retention: Retention) -> None:
        self._r, self._p, self._ttl = redis, prefix + "handoff:", retention.cases_s

    def _keys(self, case_id: str, conversation_id: str) -> list[str]:
        return [self._p + "state:" + case_id, self._p + "queue", self._p + "followups",
                self._p + "open:" + conversation_id, self._p + "case:" + case_id]

    async def create(self, case: Case) -> None:
        state = {k: _dumps(_plain(v)) for k, v in case.mutable().items()}
        state["status"] = _dumps(str(case.status))
        cid, case_id = case.conversation_id, case.case_id
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self._p + "case:" + case_id, _dumps(_plain(case.body())), ex=self._ttl)
            pipe.hset(self._p + "state:" + case_id, mapping=state)
            pipe.expire(self._p + "state:" + case_id, self._ttl)
            pipe.set(self._p + "open:" + cid, case_id, ex=self._ttl)
            pipe.sadd(self._p + "by-conversation:" + cid, case_id)
            pipe.expire(self._p + "by-conversation:" + cid, self._ttl)
            pipe.lpush(self._p + "cases", case_id)
            pipe.ltrim(self._p + "cases", 0, self.RECENT_CAP - 1)
            if case.status == CaseStatus.QUEUED:
                pipe.rpush(self._p + "queue", case_id)
            elif case.status == CaseStatus.FOLLOW_UP:
                pipe.rpush(self._p + "followups", case_id)
            await pipe.execute()

    async def get(self, case_id: str) -> Case | None:
        return (await self._get_many([case_id]))[0]

    async def _get_many(self, case_ids: list[str]) -> list[Case | None]:
        if not case_ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.get(self._p + "case:" + case_id)
                pipe.hgetall(self._p + "state:" + case_id)
            raw = await pipe.execute()
        found: list[Case | None] = []
        for body, state in zip(raw[::2], raw[1::2]):
            if body is None or not state:
                found.append(None)  # expired (or half-written): as if it never existed
                continue
            found.append(Case.from_parts(json.loads(body),
                                         {_s(k): json.loads(v) for k, v in state.items()}))
        return found

    async def open_case_for(self, conversation_id: str) -> Case | None:
        value = await self._r.get(self._p + "open:" + conversation_id)
        if value is None:
            return None
        case = await self.get(_s(value))
        return case if case is not None and case.is_open else None

    async def transition(self, case_id: str, *, from_statuses: Collection[CaseStatus],
                         to: CaseStatus, **fields: Any) -> Case | None:
        _check_fields(fields)
        case = await self.get(case_id)
        if case is None:
            return None
        pairs = [item for k, v in fields.items() for item in (k, _dumps(_plain(v)))]
        changed = await self._r.eval(
            self._TRANSITION, 5, *self._keys(case_id, case.conversation_id),
            len(from_statuses), *(_dumps(str(s)) for s in from_statuses), case_id,
            _dumps(str(to)), self._ttl, *pairs)
        return await self.get(case_id) if changed else None

    async def update(self, case_id: str, **fields: Any) -> Case | None:
        _check_fields(fields)
        if "status" in fields:
            raise ValueError("the status changes only through transition()")
        key = self._p + "state:" + case_id
        if fields and await self._r.exists(key):
            await self._r.hset(key, mapping={k: _dumps(_plain(v)) for k, v in fields.items()})
        return await self.get(case_id)

    async def queue_position(self, case_id: str) -> int | None:
        ids = await self._waiting_ids()
        return ids.index(case_id) + 1 if case_id in ids else None

    async def _waiting_ids(self) -> list[str]:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.lrange(self._p + "followups", 0, -1)
            pipe.lrange(self._p + "queue", 0, -1)
            follow_ups, queue = await pipe.execute()
        return [_s(c) for c in [*follow_ups, *queue]]

    async def waiting(self) -> list[Case]:
        ids = await self._waiting_ids()
        cases = await self._get_many(ids)
        stale = [i for i, c in zip(ids, cases) if c is None]
        if stale:  # expired while waiting: tidy the queues
            async with self._r.pipeline(transaction=False) as pipe:
                for case_id in stale:
                    pipe.lrem(self._p + "queue", 0, case_id)
                    pipe.lrem(self._p + "followups", 0, case_id)
                await pipe.execute()
        return [c for c in cases if c is not None and c.is_waiting]

    async def recent(self, *, limit: int) -> list[Case]:
        ids = [_s(c) for c in await self._r.lrange(self._p + "cases", 0, limit - 1)]
        return [c for c in await self._get_many(ids) if c is not None]

    async def delete_for(self, conversation_id: str) -> list[Case]:
        ids = [_s(c) for c in await self._r.smembers(self._p + "by-conversation:" + conversation_id)]
        cases = [c for c in await self._get_many(ids) if c is not None]
        async with self._r.pipeline(transaction=True) as pipe:
            for case_id in ids:
                pipe.delete(self._p + "case:" + case_id, self._p + "state:" + case_id)
                for index in ("queue", "followups", "cases"):
                    pipe.lrem(self._p + index, 0, case_id)
            pipe.delete(self._p + "open:" + conversation_id,
                        self._p + "by-conversation:" + conversation_id)
            await pipe.execute()
        return cases


def _check_fields(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(CASE_STATE_FIELDS)
    if unknown:
        raise TypeError(f"not a mutable case field: {', '.join(sorted(unknown))}")


class RedisAuditLog:
    """audit: a sorted set scored by time; entries older than the retention are trimmed on every
    write."""

    def __init__(self, redis: Redis, prefix: str, retention: Retention) -> None:
        self._r, self._key, self._keep = redis, prefix + "audit", retention.audit_s

    async def record(self, entry: dict[str, Any]) -> None:
        now = time.time()
        member = _dumps({"_id": secrets.token_hex(8), **entry})
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zadd(self._key, {member: now})
            pipe.zremrangebyscore(self._key, "-inf", now - self._keep)
            await pipe.execute()

    async def recent(self, *, limit: int) -> list[dict[str, Any]]:
        raw = await self._r.zrange(self._key, -limit, -1)
        entries = [json.loads(e) for e in raw]
        for entry in entries:
            entry.pop("_id", None)
        return entries


class RedisKeyValueStore:
    """Values under `kv:<namespace>:<key>`, each with its TTL. A namespace that is listed (put
    with listed=True) also has an index of its keys, a sorted set scored by expiry time, so
    listing reads that namespace only: a SCAN would walk every key of the database (every
    conversation and transcript), and the sweep lists a namespace every few seconds. Every put
    and every listing drop the members that have expired, and the index itself expires with its
    longest-lived value. Expiry times come from the Redis server's clock, as the values' TTLs
    do, so instances with skewed clocks agree."""

    _NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
    _PUT_LISTED = _NOW + """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
"""
    _LIST = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p, self._index_p = redis, prefix + "kv:", prefix + "kv-index:"

    async def get(self, namespace: str, key: str) -> Any | None:
        value = await self._r.get(f"{self._p}{namespace}:{key}")
        return json.loads(value) if value is not None else None

    async def put(self, namespace: str, key: str, value: Any, *, ttl_s: int,
                  listed: bool = False) -> None:
        ttl = max(1, int(ttl_s))
        if not listed:
            await self._r.set(f"{self._p}{namespace}:{key}", _dumps(value), ex=ttl)
            return
        await self._r.eval(self._PUT_LISTED, 2, f"{self._p}{namespace}:{key}",
                           self._index_p + namespace, _dumps(value), ttl, key)

    async def delete(self, namespace: str, key: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(f"{self._p}{namespace}:{key}")
            pipe.zrem(self._index_p + namespace, key)
            await pipe.execute()

    async def keys(self, namespace: str) -> list[str]:
        members = await self._r.eval(self._LIST, 1, self._index_p + namespace)
        return sorted(_s(m) for m in members)


class RedisIntakeJournal:
    """journal:entry:<id> a hash (conversation, message, progress state, created_at);
    journal:conv:<conversation> the ids in arrival order; journal:convs the conversations with
    entries. An append writes the idempotency mark, the entry, its place and the work notice
    (the `work` stream) in one Lua script: either all of it is recorded, or nothing."""

    _APPEND = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return false end
local id = redis.call('INCR', KEYS[2])
local entry = ARGV[6] .. id
redis.call('HSET', entry, 'cid', ARGV[2], 'message', ARGV[3], 'state', ARGV[4], 'created_at', ARGV[5])
redis.call('EXPIRE', entry, ARGV[7])
redis.call('RPUSH', KEYS[5], id)
redis.call('EXPIRE', KEYS[5], ARGV[7])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '100000', '*', 'cid', ARGV[2], 'by', ARGV[8])
return id
"""
    _SAVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'state', ARGV[1]) end
return 1
"""
    # The entries in order with their fields, flat: id, field count, field, value, ...; an
    # expired entry (its hash gone) leaves the list here and comes back with no fields, and a
    # conversation left with none leaves the set of conversations with entries.
    _ENTRIES = """
local out = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields == 0 then redis.call('LREM', KEYS[1], 0, id) end
  out[#out + 1] = id
  out[#out + 1] = #fields
  for _, item in ipairs(fields) do out[#out + 1] = item end
end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return out
"""
    _REMOVE = """
redis.call('DEL', KEYS[1])
redis.call('LREM', KEYS[2], 0, ARGV[1])
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return 1
"""

    def __init__(self, redis: Redis, prefix: str, retention: Retention, stream: str, *,
                 instance: str, intake: Redis | None = None) -> None:
        self._r, self._p, self._retention, self._stream = redis, prefix + "journal:", retention, stream
        self._intake = intake or redis  # for append only: the acknowledgement waits for it
        self._seen = prefix + "seen:"
        self._instance = instance  # named in the work notice: its drain is scheduled already

    def _conv(self, conversation_id: str) -> str:
        return self._p + "conv:" + conversation_id

    async def append(self, message: InboundMessage, *, dedupe_key: str) -> JournalEntry | None:
        now = time.time()
        cid = message.conversation_id
        entry_id = await self._intake.eval(
            self._APPEND, 5, self._seen + dedupe_key, self._p + "seq", self._p + "convs",
            self._stream, self._conv(cid),
            self._retention.dedupe_s, cid, _dumps(message.to_dict()),
            _dumps({"progress": "received"}), repr(now), self._p + "entry:",
            self._retention.journal_s, self._instance)
        if entry_id is None:
            return None
        return JournalEntry(entry_id=_s(entry_id), message=message, created_at=now)

    async def entries(self, conversation_id: str) -> list[JournalEntry]:
        # One script, not a list read and then a read per entry: the drain reads the journal
        # for every message, and round trips are what the acknowledgements wait behind.
        flat = await self._r.eval(self._ENTRIES, 2, self._conv(conversation_id),
                                  self._p + "convs", self._p + "entry:", conversation_id)
        found, at = [], 0
        while at < len(flat):
            entry_id, count = _s(flat[at]), int(flat[at + 1])
            fields = flat[at + 2:at + 2 + count]
            at += 2 + count
            if not fields:  # expired: unanswered for longer than the journal keeps anything
                log.warning("journal: entry %s of %s expired unanswered", entry_id,
                            conversation_id)
                continue
            values = {_s(k): _s(v) for k, v in zip(fields[::2], fields[1::2])}
            found.append(JournalEntry.from_parts(
                entry_id=entry_id, message=json.loads(values["message"]),
                created_at=float(values["created_at"]), state=json.loads(values["state"])))
        return found

    async def save(self, entry: JournalEntry) -> None:
        # Only while it exists: a save racing the entry's removal must not resurrect half of it.
        await self._r.eval(self._SAVE, 1, self._p + "entry:" + entry.entry_id,
                           _dumps(entry.state_dict()))

    async def remove(self, entry: JournalEntry) -> None:
        cid = entry.message.conversation_id
        await self._r.eval(self._REMOVE, 3, self._p + "entry:" + entry.entry_id, self._conv(cid),
                           self._p + "convs", entry.entry_id, cid)

    async def conversations(self) -> list[str]:
        return sorted(_s(c) for c in await self._r.smembers(self._p + "convs"))

    async def delete_for(self, conversation_id: str) -> int:
        ids = [_s(i) for i in await self._r.lrange(self._conv(conversation_id), 0, -1)]
        async with self._r.pipeline(transaction=True) as pipe:
            for entry_id in ids:
                pipe.delete(self._p + "entry:" + entry_id)
            pipe.delete(self._conv(conversation_id))
            pipe.srem(self._p + "convs", conversation_id)
            await pipe.execute()
        return len(ids)


class RedisWorkQueue:
    """A Redis stream of "conversation X has work" notices read through one consumer group, so
    each notice goes to one gateway instance; a notice an instance took and never acknowledged
    (it died) is claimed by another once it has been idle for claim_idle_ms."""

    GROUP = "gateway"

    def __init__(self, redis: Redis, stream: str, consumer: str, *,
                 claim_idle_ms: int = 30_000) -> None:
        self._r, self._stream, self._consumer = redis, stream, consumer
        self._claim_idle_ms = claim_idle_ms
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._r.xgroup_create(self._stream, self.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def notify(self, conversation_id: str) -> None:
        await self._r.xadd(self._stream, {"cid": conversation_id, "by": self._consumer},
                           maxlen=100_000, approximate=True)

    async def next(self, *, timeout_s: float) -> list[WorkTicket]:
        await self._ensure_group()
        try:
            found = await self._r.xreadgroup(self.GROUP, self._consumer, {self._stream: ">"},
                                             count=100, block=max(1, int(timeout_s * 1000)))
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # Redis lost the group (restarted without persistence)
                self._group_ready = False
                return []
            raise
        return [self._ticket(ticket_id, fields) for _, items in found or ()
                for ticket_id, fields in items]

    def _ticket(self, ticket_id: Any, fields: Mapping[bytes, bytes]) -> WorkTicket:
        return WorkTicket(_s(fields[b"cid"]), _s(ticket_id),
                          ours=_s(fields.get(b"by", b"")) == self._consumer)

    async def done(self, ticket: WorkTicket) -> None:
        await self._r.xack(self._stream, self.GROUP, ticket.ticket_id)

    async def reclaim(self) -> list[WorkTicket]:
        await self._ensure_group()
        try:
            result = await self._r.xautoclaim(self._stream, self.GROUP, self._consumer,
                                              min_idle_time=self._claim_idle_ms, start_id="0-0",
                                              count=100)
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                self._group_ready = False
                return []
            raise
        claimed = result[1] if len(result) > 1 else []
        # Claimed from an instance that stopped without finishing it: never ours to skip.
        return [WorkTicket(_s(fields[b"cid"]), _s(ticket_id)) for ticket_id, fields in claimed
                if fields]


class RedisBus:
    """Redis pub/sub on <prefix>bus:<topic> (one pattern subscription per instance). Every
    instance, this one included, receives what is published. Pub/sub keeps nothing: what is
    published while an instance's subscription is down (Redis restarting) never reaches it, so
    once it is back the `on_resume` handlers run and the live views send their state again (a web
    chat tab its history, a console its queue)."""

    # Reconnect attempts while Redis is away: a reply published after Redis is back but before
    # the subscription is reaches the customer only with the resume, so the wait stays short.
    MAX_RETRY_DELAY_S = 1.0

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._r, self._p = redis, prefix + "bus:"
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._resumed: list[Resumed] = []
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._r.publish(self._p + topic, _dumps(message))

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def on_resume(self, handler: Resumed) -> None:
        self._resumed.append(handler)

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="redis bus")
            await asyncio.wait_for(self._subscribed.wait(), 10)

    async def close(self) -> None:
        if self._listener is not None:
            await cancel_and_wait([self._listener])

    async def _listen(self) -> None:
        delay = 0.1
        lost = False
        while not cancel_requested():
            pubsub = self._r.pubsub(ignore_subscribe_messages=True)
            try:
                # One pattern for every topic, so a subscriber added later needs no round trip.
                await pubsub.psubscribe(self._p + "*")
                self._subscribed.set()
                delay = 0.1
                if lost:
                    lost = False
                    log.info("redis bus: subscribed again; live views resync")
                    await self._resume()
                # A lost connection ends this loop with an error (the client is built without a
                # retry policy): were redis-py to reconnect and resubscribe by itself, no resume
                # would run (tests/stores/test_bus_resume.py would fail).
                async for item in pubsub.listen():
                    topic = _s(item["channel"])[len(self._p):]
                    message = json.loads(item["data"])
                    for handler in list(self._handlers.get(topic, ())):
                        try:
                            await handler(message)
                        except Exception:
                            log.exception("bus subscriber of %s failed", topic)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                lost = True
                log.warning("redis bus: %s; resubscribing in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.MAX_RETRY_DELAY_S)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass

    async def _resume(self) -> None:
        for handler in list(self._resumed):
            try:
                await handler()
            except Exception:  # one broken view must not keep the others stale
                log.exception("bus resume handler %s failed", getattr(handler, "__qualname__",
                                                                      handler))


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
        async with self._held(key, token):
            yield

    @asynccontextmanager
    async def try_hold(self, conversation_id: str) -> AsyncIterator[bool]:
        key, token = self._p + conversation_id, secrets.token_hex(16)
        if not await self._r.set(key, token, nx=True, px=self._ttl_ms):
            yield False
            return
        async with self._held(key, token):
            yield True

    @asynccontextmanager
    async def _held(self, key: str, token: str) -> AsyncIterator[None]:
        renew = asyncio.create_task(self._keep(key, token))
        try:
            yield
        finally:
            renew.cancel()
            try:
                await self._r.eval(self._RELEASE, 1, key, token)
            except (RedisError, OSError) as exc:  # it expires by itself
                log.warning("lock %s not released (%s); it expires in %d ms", key, exc,
                            self._ttl_ms)

    async def _keep(self, key: str, token: str) -> None:
        while not cancel_requested():
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                await self._r.eval(self._RENEW, 1, key, token, self._ttl_ms)
            except (RedisError, OSError) as exc:  # Redis restarting: keep trying
                log.warning("lock %s renewal failed: %s", key, exc)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


# The acknowledgement path (journal appends, a channel's conversation reads) has connections of
# its own: in one shared pool they queued behind the commands of every conversation being drained
# (redis-py hands out connections through one asyncio.Condition), which tripled the ack's p99
# under a burst.
INTAKE_CONNECTIONS = 32


def redis_stores(url: str, *, prefix: str = "helpdesk:", retention: Retention | None = None,
                 consumer: str | None = None, claim_idle_ms: int = 30_000,
                 max_connections: int = 64) -> Stores:
    retention = retention or Retention()
    # A blocking pool: under a burst, a command waits for a free connection instead of failing
    # with "Too many connections" (which would refuse an acknowledgement).
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=10,
                                           health_check_interval=15)
    redis = Redis(connection_pool=pool)
    intake_pool = BlockingConnectionPool.from_url(url, max_connections=INTAKE_CONNECTIONS,
                                                  timeout=10, health_check_interval=15)
    intake = Redis(connection_pool=intake_pool)
    stream = prefix + "work"
    consumer = consumer or instance_name()
    bus = RedisBus(redis, prefix)

    async def start() -> None:
        # Every connection opened now, before the first webhook: a burst on a cold pool paid a
        # TCP connect and a handshake per connection inside the acknowledgements (the first
        # twenty acks of a start were the slowest of a whole run).
        await asyncio.gather(*(intake.ping() for _ in range(INTAKE_CONNECTIONS)),
                             *(redis.ping() for _ in range(max_connections)))
        await bus.start()

    async def close() -> None:
        try:
            await bus.close()
            await redis.aclose()
            await pool.disconnect()
        finally:
            await intake.aclose()
            await intake_pool.disconnect()

    return Stores(
        kind="redis",
        idempotency=RedisIdempotencyStore(redis, prefix),
        sessions=RedisSessionStore(redis, prefix),
        transcripts=RedisTranscriptStore(redis, prefix, retention),
        conversations=RedisConversationStore(redis, prefix, retention, intake=intake),
        cases=RedisHandoffCaseStore(redis, prefix, retention),
        locks=RedisConversationLock(redis, prefix),
        audit=RedisAuditLog(redis, prefix, retention),
        kv=RedisKeyValueStore(redis, prefix),
        journal=RedisIntakeJournal(redis, prefix, retention, stream, instance=consumer,
                                   intake=intake),
        work=RedisWorkQueue(redis, stream, consumer,
                            claim_idle_ms=claim_idle_ms),
        bus=bus,
        retention=retention,
        start=start,
        close=close,
    )
