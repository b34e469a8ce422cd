"""With Redis, the acknowledgement path (the journal append, and the conversation reads a channel
makes before it accepts a message) has connections of its own: it answers while every shared
connection is taken by the drains."""

from __future__ import annotations

import asyncio

from bot.state import ConversationState
from bot.stores import redis_stores
from tests.conftest import REDIS_URL
from tests.stores.conftest import inbound


async def test_the_acknowledgement_path_answers_while_every_shared_connection_is_taken(
        redis_prefix: str) -> None:
    stores = redis_stores(REDIS_URL, prefix=redis_prefix, max_connections=1)
    await stores.start()  # the live-update subscription now holds the one shared connection
    try:
        async with asyncio.timeout(3):  # the shared pool would make them wait 10 s, then fail
            assert await stores.conversations.peek("sms:+15550001111") == ConversationState()
            assert not await stores.conversations.exists("slack:T1:C1:1.2")
            assert await stores.journal.append(inbound("c1", "m1"), dedupe_key="m1") is not None
    finally:
        await stores.close()
