"""The production profile's shape on one machine (docs/production.md): two Rasa servers on one
Redis (tracker and lock stores), one action server, the gateway spreading conversations over
both. Each conversation runs on one server at a time (its home, by a hash of its id), both
servers get conversations, and when one is killed its conversations carry on on the other with
nothing lost. Which server ran a conversation is read from each server's own log (Rasa's lock
store names the conversation it locks)."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Iterator

import aiohttp
import pytest
import redis

from bot.stack import Ports, Stack
from tests.chat_client import ChatClient

pytestmark = pytest.mark.integration

REDIS_DB_URL = "redis://127.0.0.1:6379/13"
LOCKED = re.compile(r"Acquired lock for conversation '(web:[0-9a-f]+)'")
CHATS = 10


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    prefix = f"it2-{uuid.uuid4().hex[:8]}:"
    running = Stack(ports=Ports.free(rasa_servers=2),
                    state_dir=Path(tmp_path_factory.mktemp("two-rasa")), redis_url=REDIS_DB_URL,
                    extra_env={"REDIS_PREFIX": prefix,
                               "RASA_REDIS_KEY_PREFIX": f"rasa2-{uuid.uuid4().hex[:6]}",
                               "RASA_DEBUG_LOGGERS": "rasa.core.lock_store",
                               "PENDING_RETRY_INTERVAL_S": "1"})
    asyncio.run(running.start())
    yield running, prefix
    running.stop()
    redis.Redis.from_url(REDIS_DB_URL).flushdb()


def conversations_on(stack: Stack, server: str) -> set[str]:
    name = server.replace(" ", "-")
    log = (stack.state_dir / "logs" / f"{name}.log").read_text(errors="replace")
    return set(LOCKED.findall(log))


def web_conversations(prefix: str) -> set[str]:
    client = redis.Redis.from_url(REDIS_DB_URL, decode_responses=True)
    return {c for key in client.scan_iter(match=prefix + "session:*")
            if (c := client.get(key)) and c.startswith("web:")}


async def open_chats(http: aiohttp.ClientSession, stack: Stack, n: int) -> list[ChatClient]:
    chats = []
    for _ in range(n):
        chat = ChatClient(await http.ws_connect(f"{stack.gateway_url}/webchat/ws"))
        await chat.hello()
        chats.append(chat)
    return chats


async def answer_of(chat: ChatClient, text: str) -> str:
    """The bot's answer to `text`. An honest outage notice may come first (the message was at
    the server that was killed): the answer follows it once the other server has it."""
    await chat.say(text)
    while True:
        said = [r["text"] for r in await chat.replies(timeout=90) if r.get("role") != "system"]
        if said:
            return said[0]


async def test_conversations_spread_over_both_servers_one_server_each(
        two_servers: tuple[Stack, str]) -> None:
    stack, prefix = two_servers
    earlier = web_conversations(prefix)
    async with aiohttp.ClientSession() as http:
        chats = await open_chats(http, stack, CHATS)
        await asyncio.gather(*(c.turn("how much is shipping") for c in chats))
        await asyncio.gather(*(c.turn("do you ship to canada") for c in chats))
    mine = web_conversations(prefix) - earlier
    first, second = conversations_on(stack, "rasa server"), conversations_on(stack, "rasa server 2")
    assert len(mine) == CHATS
    assert mine <= first | second
    assert first & mine and second & mine, "both servers get conversations"
    assert not (first & second & mine), "no conversation ran on both servers"


async def test_a_killed_servers_conversations_carry_on_on_the_other(
        two_servers: tuple[Stack, str]) -> None:
    stack, prefix = two_servers
    earlier = web_conversations(prefix)
    async with aiohttp.ClientSession() as http:
        chats = await open_chats(http, stack, CHATS)
        for chat in chats:
            assert "$4.99" in (await chat.turn("how much is shipping"))[0]["text"]
        mine = web_conversations(prefix) - earlier
        on_first = conversations_on(stack, "rasa server") & mine
        assert on_first
        # Every conversation is mid-message while the first server dies.
        pending = [asyncio.create_task(answer_of(chat, "do you ship to canada")) for chat in chats]
        stack.kill(stack.process("rasa server"))
        answers = await asyncio.gather(*pending)
        assert all("ship" in a.lower() or "countr" in a.lower() for a in answers), answers
        # And the next message of each runs on the server that is left.
        for chat in chats:
            await chat.turn("thanks")
    assert on_first <= conversations_on(stack, "rasa server 2")
    await stack.restart(stack.process("rasa server"))
