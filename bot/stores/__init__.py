"""Gateway state behind narrow interfaces: an in-process implementation (the embedded default) and
Redis (production, and what several gateway instances share)."""

from bot.stores.base import (
    ConversationStore,
    HandoffCaseStore,
    IdempotencyStore,
    PendingStore,
    SessionStore,
    Stores,
    TranscriptStore,
)
from bot.stores.memory import memory_stores
from bot.stores.redis import redis_stores

__all__ = [
    "ConversationStore",
    "HandoffCaseStore",
    "IdempotencyStore",
    "PendingStore",
    "SessionStore",
    "Stores",
    "TranscriptStore",
    "memory_stores",
    "redis_stores",
]
