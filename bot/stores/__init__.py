"""Gateway state behind narrow interfaces: SQLite (the embedded default, one process) and Redis
(production, and what several gateway instances share)."""

from bot.stores.base import (
    AuditLog,
    Bus,
    ConversationLock,
    ConversationStore,
    HandoffCaseStore,
    IdempotencyStore,
    IntakeJournal,
    JournalEntry,
    KeyValueStore,
    Progress,
    Retention,
    SessionStore,
    Stores,
    TranscriptStore,
    WorkQueue,
    WorkTicket,
)
from bot.stores.redis import redis_stores
from bot.stores.sqlite import memory_stores, sqlite_stores

__all__ = [
    "AuditLog",
    "Bus",
    "ConversationLock",
    "ConversationStore",
    "HandoffCaseStore",
    "IdempotencyStore",
    "IntakeJournal",
    "JournalEntry",
    "KeyValueStore",
    "Progress",
    "Retention",
    "SessionStore",
    "Stores",
    "TranscriptStore",
    "WorkQueue",
    "WorkTicket",
    "memory_stores",
    "redis_stores",
    "sqlite_stores",
]
