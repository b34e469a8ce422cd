"""The store interfaces. Each is as narrow as its use; values are the typed state of bot/state.py
or plain JSON-able dicts, so the SQLite and Redis implementations behave identically (the contract
suite in tests/stores/ runs against both).

Everything kept expires (Retention); the SQLite stores sweep expired rows, Redis keys carry TTLs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import (Any, AsyncContextManager, Awaitable, Callable, Collection, Mapping,
                    Protocol)

from bot.messages import InboundMessage
from bot.state import Case, CaseStatus, ConversationState

DAY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of state is kept after it last changed (seconds)."""

    conversations_s: int = 30 * DAY_S
    transcripts_s: int = 30 * DAY_S
    cases_s: int = 90 * DAY_S
    audit_s: int = 365 * DAY_S
    journal_s: int = 7 * DAY_S  # a message nobody could answer in a week is dropped (and logged)
    dedupe_s: int = 7 * DAY_S   # platform message ids remembered for de-duplication
    analytics_s: int = 395 * DAY_S  # analytics events (pseudonymised): a year to compare with


class IdempotencyStore(Protocol):
    async def first_seen(self, key: str, *, ttl_s: int) -> bool:
        """True exactly once per key within ttl_s, across restarts and instances."""
        ...


class SessionStore(Protocol):
    """Secrets that map to an owner (web chat tokens to conversations, console sessions)."""

    async def get(self, token: str) -> str | None: ...

    async def put(self, token: str, value: str, *, ttl_s: int) -> None: ...

    async def delete(self, token: str) -> None: ...

    async def delete_for(self, value: str) -> int:
        """Forget every session that maps to `value` (erasure); returns how many."""
        ...


class TranscriptStore(Protocol):
    """What was said in a conversation, oldest first, bounded to the most recent entries."""

    async def append(self, conversation_id: str, entry: dict[str, Any], *, limit: int) -> None: ...

    async def recent(self, conversation_id: str, *, limit: int) -> list[dict[str, Any]]: ...

    async def delete(self, conversation_id: str) -> None: ...


class ConversationStore(Protocol):
    """Per-conversation state (bot/state.py ConversationState). Updates name fields; two updates
    of different fields never overwrite each other."""

    async def get(self, conversation_id: str) -> ConversationState: ...

    async def peek(self, conversation_id: str) -> ConversationState:
        """`get` for the acknowledgement path (a channel deciding how to accept a message): with
        Redis it never queues behind the drains' commands."""
        ...

    async def exists(self, conversation_id: str) -> bool:
        """Asked on the acknowledgement path, like `peek`."""
        ...

    async def update(self, conversation_id: str, **changes: Any) -> ConversationState: ...

    async def update_channel_data(self, conversation_id: str,
                                  changes: Mapping[str, Any]) -> ConversationState:
        """Merge keys into the channel's own namespace of the conversation."""
        ...

    async def delete(self, conversation_id: str) -> None: ...


class HandoffCaseStore(Protocol):
    """Handoff cases. The status changes only through `transition`, a compare-and-set, so two
    agents claiming at once cannot both win."""

    async def create(self, case: Case) -> None: ...

    async def get(self, case_id: str) -> Case | None: ...

    async def open_case_for(self, conversation_id: str) -> Case | None:
        """The conversation's case that is not closed yet, if any."""
        ...

    async def transition(self, case_id: str, *, from_statuses: Collection[CaseStatus],
                         to: CaseStatus, **fields: Any) -> Case | None:
        """Atomically set the status `to` (and `fields`) if the case's status is one of
        `from_statuses`; returns the updated case, or None when the status did not match."""
        ...

    async def update(self, case_id: str, **fields: Any) -> Case | None:
        """Set mutable fields other than the status (a rating, a follow-up contact)."""
        ...

    async def queue_position(self, case_id: str) -> int | None:
        """1-based place among waiting cases (follow-ups first), None when not waiting."""
        ...

    async def waiting(self) -> list[Case]:
        """Waiting cases in service order: follow-ups first, then the queue, oldest first."""
        ...

    async def recent(self, *, limit: int) -> list[Case]:
        """The newest cases first."""
        ...

    async def delete_for(self, conversation_id: str) -> list[Case]:
        """Delete every case of a conversation (erasure); returns what was deleted."""
        ...


class AuditLog(Protocol):
    """Append-only record of what agents did (views, claims, replies, hand-backs) and of erasures."""

    async def record(self, entry: dict[str, Any]) -> None: ...

    async def recent(self, *, limit: int) -> list[dict[str, Any]]: ...


class KeyValueStore(Protocol):
    """Small expiring values in named namespaces (console sign-in failures, the Slack inbox's
    thread index): kept apart from conversations so nothing else poses as one."""

    async def get(self, namespace: str, key: str) -> Any | None: ...

    async def put(self, namespace: str, key: str, value: Any, *, ttl_s: int,
                  listed: bool = False) -> None:
        """listed=True for a namespace that is listed with keys(): only those are indexed, so
        the ids of the others (e-mails of sign-in failures, client addresses) exist once."""
        ...

    async def delete(self, namespace: str, key: str) -> None: ...

    async def keys(self, namespace: str) -> list[str]:
        """The live keys put with listed=True (namespaces are small: pending work, presence)."""
        ...


class ConversationLock(Protocol):
    """Mutual exclusion per conversation, so one conversation is handled one message at a time,
    also across gateway instances (with Redis)."""

    def hold(self, conversation_id: str) -> AsyncContextManager[None]: ...

    def try_hold(self, conversation_id: str) -> AsyncContextManager[bool]:
        """Like hold, without waiting: yields False (and holds nothing) when someone else has it."""
        ...


class Progress(StrEnum):
    """How far the gateway got with a journalled message (what a restart resumes from)."""

    RECEIVED = "received"  # durable and acknowledged; nothing done yet
    RECORDED = "recorded"  # in the transcript, escalation rules evaluated; not yet at Rasa
    AT_RASA = "at_rasa"    # sent to Rasa: after a crash, look in the tracker before resending
    ANSWERED = "answered"  # the replies are known (kept in the entry) and being delivered


@dataclass(frozen=True, slots=True)
class JournalEntry:
    entry_id: str
    message: InboundMessage
    created_at: float
    progress: Progress = Progress.RECEIVED
    rasa_text: str | None = None  # neutralised free text or an offered payload
    trigger: Mapping[str, Any] | None = None  # the escalation rule that fired, if any
    replies: tuple[Mapping[str, Any], ...] | None = None  # OutboundMessage dicts
    failures: int = 0  # processing attempts that failed unexpectedly (not Rasa outages)
    secret: bool = False  # a one-time code the bot asked for: shown to nobody

    def advance(self, progress: Progress, **changes: Any) -> JournalEntry:
        return replace(self, progress=progress, **changes)

    def state_dict(self) -> dict[str, Any]:
        return {"progress": str(self.progress), "rasa_text": self.rasa_text,
                "trigger": dict(self.trigger) if self.trigger is not None else None,
                "replies": [dict(r) for r in self.replies] if self.replies is not None else None,
                "failures": self.failures, "secret": self.secret}

    @classmethod
    def from_parts(cls, *, entry_id: str, message: Mapping[str, Any], created_at: float,
                   state: Mapping[str, Any]) -> JournalEntry:
        replies = state.get("replies")
        return cls(entry_id=entry_id, message=InboundMessage.from_dict(message),
                   created_at=float(created_at), progress=Progress(state.get("progress")
                                                                    or Progress.RECEIVED),
                   rasa_text=state.get("rasa_text"), trigger=state.get("trigger"),
                   replies=tuple(replies) if replies is not None else None,
                   failures=int(state.get("failures") or 0),
                   secret=bool(state.get("secret")))


class IntakeJournal(Protocol):
    """Customer messages between their acknowledgement and their answer. `append` records the
    message together with its idempotency mark in one atomic write, so a duplicate is refused
    and an acknowledged message is never lost; an entry is removed once its replies are
    delivered (or recorded as undeliverable)."""

    async def append(self, message: InboundMessage, *, dedupe_key: str) -> JournalEntry | None:
        """The new entry, or None when `dedupe_key` was seen before (a duplicate)."""
        ...

    async def entries(self, conversation_id: str) -> list[JournalEntry]:
        """The conversation's entries in arrival order."""
        ...

    async def save(self, entry: JournalEntry) -> None:
        """Persist the entry's progress (and what it learnt on the way)."""
        ...

    async def remove(self, entry: JournalEntry) -> None: ...

    async def conversations(self) -> list[str]:
        """Conversations with entries (what a restart or a sweep picks up)."""
        ...

    async def delete_for(self, conversation_id: str) -> int: ...


@dataclass(frozen=True, slots=True)
class WorkTicket:
    """A notice that a conversation has work; `done` it once the conversation was drained.
    `ours`: this instance posted it (engine.accept drains what it journals at once, so the
    notice needs no second pass while that drain runs)."""

    conversation_id: str
    ticket_id: str
    ours: bool = False


class WorkQueue(Protocol):
    """Which conversations have work, shared by every gateway instance (Redis stream with a
    consumer group) or within one process (the embedded default)."""

    async def notify(self, conversation_id: str) -> None: ...

    async def next(self, *, timeout_s: float) -> list[WorkTicket]:
        """Tickets for this instance (empty after timeout_s)."""
        ...

    async def done(self, ticket: WorkTicket) -> None: ...

    async def reclaim(self) -> list[WorkTicket]:
        """Tickets an instance took and never finished (it died): taken over by this one."""
        ...


Handler = Callable[[dict[str, Any]], Awaitable[None]]
Resumed = Callable[[], Awaitable[None]]


class Bus(Protocol):
    """Live notifications for every gateway instance (Redis pub/sub with Redis): case events for
    the agent consoles, web chat frames for the instance holding the customer's socket."""

    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str, handler: Handler) -> None: ...

    def on_resume(self, handler: Resumed) -> None:
        """Called after the subscription came back from a loss (Redis restarted): whatever was
        published meanwhile never arrived, so a live view sends its state again."""
        ...


@dataclass(frozen=True, slots=True)
class Stores:
    kind: str
    idempotency: IdempotencyStore
    sessions: SessionStore
    transcripts: TranscriptStore
    conversations: ConversationStore
    cases: HandoffCaseStore
    locks: ConversationLock
    audit: AuditLog
    kv: KeyValueStore
    journal: IntakeJournal
    work: WorkQueue
    bus: Bus
    retention: Retention
    start: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]
    # Deletes what has expired (SQLite); Redis expires keys by itself. Returns rows removed.
    sweep: Callable[[], Awaitable[int]] = field(default=lambda: _nothing())


async def _nothing() -> int:
    return 0
