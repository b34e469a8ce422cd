"""With Redis, web chat replies reach the customer's tab over pub/sub, which keeps nothing: a reply
published while the gateway's subscription was away (Redis restarting, a network blip) never
arrives live. When the subscription is back, every open tab gets its session again with the
history, so the reply shows without a reload. A redis-server of the test's own is cut; the reply
is written to the transcript without being published, as one missed would be."""

from __future__ import annotations

import time
from typing import Any, AsyncIterator

import pytest

from bot.stores import Stores, redis_stores
from tests.gateway.conftest import Gateway
from tests.redis_server import RedisServer


@pytest.fixture
async def stores(own_redis: RedisServer) -> AsyncIterator[Stores]:
    built = redis_stores(own_redis.url, prefix="webchat-resync:")
    yield built  # the gateway app starts and closes them


async def _missed_reply(gateway: Gateway, session: str, text: str) -> None:
    conversation_id = await gateway.stores.sessions.get(session)
    assert conversation_id is not None
    await gateway.stores.transcripts.append(
        conversation_id, {"id": f"missed-{text}", "role": "bot", "text": text, "ts": time.time()},
        limit=100)


async def test_a_reply_missed_while_the_bus_was_away_reaches_the_open_tab(
        open_chat: Any, gateway: Gateway, own_redis: RedisServer) -> None:
    chat = await open_chat()
    await chat.hello()
    await _missed_reply(gateway, chat.session, "Your order shipped.")
    assert own_redis.cut_subscribers() == 1
    frame = await chat.take(lambda f: f["type"] == "session", timeout=10)
    assert frame["session"] == chat.session  # the tab keeps its conversation
    assert [e["text"] for e in frame["history"]] == ["Your order shipped."]


async def test_every_open_tab_gets_its_own_conversation_again(
        open_chat: Any, gateway: Gateway, own_redis: RedisServer) -> None:
    first, second = await open_chat(), await open_chat()
    await first.hello()
    await second.hello()
    await _missed_reply(gateway, first.session, "for the first")
    await _missed_reply(gateway, second.session, "for the second")
    own_redis.cut_subscribers()
    for chat, text in ((first, "for the first"), (second, "for the second")):
        frame = await chat.take(lambda f: f["type"] == "session", timeout=10)
        assert (frame["session"], [e["text"] for e in frame["history"]]) == (chat.session, [text])


async def test_replies_arrive_live_again_after_the_resync(
        open_chat: Any, gateway: Gateway, own_redis: RedisServer) -> None:
    chat = await open_chat()
    await chat.hello()
    own_redis.cut_subscribers()
    await chat.take(lambda f: f["type"] == "session", timeout=10)
    await chat.say("hello")
    assert (await chat.reply())["text"] == "Hi! I'm an automated assistant."
