"""In-process stores: the embedded default, so the assistant runs on a laptop with nothing else
installed. State lives as long as the gateway process."""

from __future__ import annotations

import asyncio
import copy
import time
from collections import OrderedDict, defaultdict
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from bot.messages import InboundMessage
from bot.stores.base import OPEN_STATUSES, STATE_FIELDS, Stores


class MemoryIdempotencyStore:
    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    async def first_seen(self, key: str, *, ttl_s: int) -> bool:
        now = time.monotonic()
        if len(self._expiry) > 10_000:
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
        expires = self._expiry.get(key)
        if expires is not None and expires > now:
            return False
        self._expiry[key] = now + ttl_s
        return True


class MemorySessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, tuple[str, float]] = {}

    async def get(self, token: str) -> str | None:
        found = self._sessions.get(token)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    async def put(self, token: str, conversation_id: str, *, ttl_s: int) -> None:
        self._sessions[token] = (conversation_id, time.monotonic() + ttl_s)


class MemoryTranscriptStore:
    def __init__(self) -> None:
        self._entries: dict[str, list[dict[str, Any]]] = defaultdict(list)

    async def append(self, conversation_id: str, entry: dict[str, Any], *, limit: int) -> None:
        entries = self._entries[conversation_id]
        entries.append(copy.deepcopy(entry))
        del entries[:-limit]

    async def recent(self, conversation_id: str, *, limit: int) -> list[dict[str, Any]]:
        return copy.deepcopy(self._entries.get(conversation_id, [])[-limit:])


class MemoryConversationStore:
    def __init__(self) -> None:
        self._state: dict[str, dict[str, Any]] = {}

    async def get(self, conversation_id: str) -> dict[str, Any]:
        return copy.deepcopy(self._state.get(conversation_id, {}))

    async def update(self, conversation_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        state = self._state.setdefault(conversation_id, {})
        state.update(copy.deepcopy(fields))
        return copy.deepcopy(state)


class MemoryPendingStore:
    def __init__(self) -> None:
        self._pending: dict[str, OrderedDict[str, dict[str, Any]]] = {}

    async def add(self, message: InboundMessage) -> None:
        queue = self._pending.setdefault(message.conversation_id, OrderedDict())
        queue.setdefault(message.platform_message_id, message.to_dict())

    async def conversations(self) -> list[str]:
        return [c for c, q in self._pending.items() if q]

    async def peek(self, conversation_id: str) -> list[InboundMessage]:
        queue = self._pending.get(conversation_id, OrderedDict())
        return [InboundMessage.from_dict(d) for d in queue.values()]

    async def remove(self, conversation_id: str, platform_message_id: str) -> None:
        queue = self._pending.get(conversation_id)
        if queue is not None:
            queue.pop(platform_message_id, None)
            if not queue:
                del self._pending[conversation_id]


class MemoryHandoffCaseStore:
    def __init__(self) -> None:
        self._bodies: dict[str, dict[str, Any]] = {}
        self._state: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []

    async def create(self, case: dict[str, Any]) -> None:
        body = {k: v for k, v in case.items() if k not in STATE_FIELDS}
        self._bodies[case["case_id"]] = copy.deepcopy(body)
        self._state[case["case_id"]] = {k: copy.deepcopy(v) for k, v in case.items()
                                        if k in STATE_FIELDS}
        self._order.append(case["case_id"])

    async def get(self, case_id: str) -> dict[str, Any] | None:
        if case_id not in self._bodies:
            return None
        return copy.deepcopy({**self._bodies[case_id], **self._state[case_id]})

    async def open_case_for(self, conversation_id: str) -> str | None:
        for case_id in reversed(self._order):
            if (self._bodies[case_id]["conversation_id"] == conversation_id
                    and self._state[case_id]["status"] in OPEN_STATUSES):
                return case_id
        return None

    async def transition(self, case_id: str, *, from_statuses: tuple[str, ...],
                         fields: dict[str, Any]) -> dict[str, Any] | None:
        state = self._state.get(case_id)
        if state is None or state["status"] not in from_statuses:
            return None
        state.update(copy.deepcopy(fields))
        return await self.get(case_id)

    async def update_state(self, case_id: str, fields: dict[str, Any]) -> None:
        if "status" in fields:
            raise ValueError("the status changes only through transition()")
        if case_id in self._state:
            self._state[case_id].update(copy.deepcopy(fields))

    async def queue_position(self, case_id: str) -> int | None:
        waiting = await self.queued()
        return waiting.index(case_id) + 1 if case_id in waiting else None

    async def queued(self) -> list[str]:
        follow_ups = [c for c in self._order if self._state[c]["status"] == "follow_up"]
        queue = [c for c in self._order if self._state[c]["status"] == "queued"]
        return follow_ups + queue

    async def all_ids(self) -> list[str]:
        return list(reversed(self._order))


class MemoryAuditLog:
    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []

    async def record(self, entry: dict[str, Any]) -> None:
        self._entries.append(copy.deepcopy(entry))

    async def recent(self, *, limit: int) -> list[dict[str, Any]]:
        return copy.deepcopy(self._entries[-limit:])


class MemoryConversationLock:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._users[conversation_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[conversation_id] -= 1
            if not self._users[conversation_id]:  # forget idle conversations
                del self._users[conversation_id]
                self._locks.pop(conversation_id, None)


def memory_stores() -> Stores:
    async def close() -> None:
        return None

    return Stores(
        kind="in-process",
        idempotency=MemoryIdempotencyStore(),
        sessions=MemorySessionStore(),
        transcripts=MemoryTranscriptStore(),
        conversations=MemoryConversationStore(),
        pending=MemoryPendingStore(),
        cases=MemoryHandoffCaseStore(),
        locks=MemoryConversationLock(),
        audit=MemoryAuditLog(),
        close=close,
    )
