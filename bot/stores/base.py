"""The store interfaces. Each is as narrow as its one use; values are plain JSON-able dicts so the
in-process and Redis implementations behave identically (the store tests run against both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncContextManager, Awaitable, Callable, Protocol

from bot.messages import InboundMessage


class IdempotencyStore(Protocol):
    async def first_seen(self, key: str, *, ttl_s: int) -> bool:
        """True exactly once per key within ttl_s, across restarts and instances (with Redis)."""
        ...


class SessionStore(Protocol):
    """Web chat sessions: an unguessable browser token mapped to a conversation id."""

    async def get(self, token: str) -> str | None: ...

    async def put(self, token: str, conversation_id: str, *, ttl_s: int) -> None: ...


class TranscriptStore(Protocol):
    """What was said in a conversation, oldest first, bounded to the most recent entries."""

    async def append(self, conversation_id: str, entry: dict[str, Any], *, limit: int) -> None: ...

    async def recent(self, conversation_id: str, *, limit: int) -> list[dict[str, Any]]: ...


class ConversationStore(Protocol):
    """Small per-conversation state (channel, customer, buttons last offered)."""

    async def get(self, conversation_id: str) -> dict[str, Any]: ...

    async def update(self, conversation_id: str, fields: dict[str, Any]) -> dict[str, Any]: ...


class PendingStore(Protocol):
    """Customer messages accepted while the Rasa server could not be reached; kept in order until
    they are answered, so an outage loses nothing."""

    async def add(self, message: InboundMessage) -> None: ...

    async def conversations(self) -> list[str]: ...

    async def peek(self, conversation_id: str) -> list[InboundMessage]: ...

    async def remove(self, conversation_id: str, platform_message_id: str) -> None: ...


OPEN_STATUSES = ("queued", "active", "follow_up")
# The mutable part of a case; everything else is written once when the case opens.
STATE_FIELDS = frozenset({"status", "agent", "claimed_at", "closed_at", "csat", "follow_up_contact",
                          "slack_ts"})
CLOSED_STATUSES = ("resolved", "returned", "cancelled")


class HandoffCaseStore(Protocol):
    """Handoff cases. A case is an immutable body (ids, trigger, context package) plus a small
    mutable state (status, agent, timestamps, rating) that changes only through `transition`, a
    compare-and-set on the status, so two agents claiming at once cannot both win."""

    async def create(self, case: dict[str, Any]) -> None:
        """Store a new case ('case_id', 'conversation_id', 'status' queued or follow_up)."""
        ...

    async def get(self, case_id: str) -> dict[str, Any] | None: ...

    async def open_case_for(self, conversation_id: str) -> str | None:
        """The conversation's case that is not closed yet, if any."""
        ...

    async def transition(self, case_id: str, *, from_statuses: tuple[str, ...],
                         fields: dict[str, Any]) -> dict[str, Any] | None:
        """Atomically apply `fields` (including a new 'status') if the case's status is one of
        `from_statuses`; returns the updated case, or None when the status did not match."""
        ...

    async def update_state(self, case_id: str, fields: dict[str, Any]) -> None:
        """Set state fields that are not the status (a rating, a follow-up contact)."""
        ...

    async def queue_position(self, case_id: str) -> int | None:
        """1-based place among waiting cases (follow-ups first), None when not waiting."""
        ...

    async def queued(self) -> list[str]:
        """Waiting case ids in service order: follow-ups first, then the queue, oldest first."""
        ...

    async def all_ids(self) -> list[str]:
        """Every case id, newest first (bounded by the store's retention)."""
        ...


class AuditLog(Protocol):
    """Append-only record of what agents did (views, claims, replies, hand-backs)."""

    async def record(self, entry: dict[str, Any]) -> None: ...

    async def recent(self, *, limit: int) -> list[dict[str, Any]]: ...


class ConversationLock(Protocol):
    """Mutual exclusion per conversation, so one conversation is handled one message at a time
    even across gateway instances (with Redis)."""

    def hold(self, conversation_id: str) -> AsyncContextManager[None]: ...


@dataclass(frozen=True, slots=True)
class Stores:
    kind: str
    idempotency: IdempotencyStore
    sessions: SessionStore
    transcripts: TranscriptStore
    conversations: ConversationStore
    pending: PendingStore
    cases: HandoffCaseStore
    locks: ConversationLock
    audit: AuditLog
    close: Callable[[], Awaitable[None]]
