"""Two gateway instances on one Redis: an agent connected to either sees the queue, the customer's
messages and the claims live (case events cross instances on Redis pub/sub), and a reply sent
from the console on one instance reaches a web chat tab connected to the other."""

from __future__ import annotations

from typing import AsyncIterator

import aiohttp
import pytest

from bot.state import CaseStatus
from bot.stores import redis_stores
from tests.chat_client import ChatClient
from tests.conftest import REDIS_URL
from tests.console.conftest import (AGENT_ACCOUNTS, ANA, AgentClient, AgentSocket, Gateway,
                                    NluFakeRasa, open_case)
from tests.gateways import Running, start_gateway


@pytest.fixture
async def pair(fake_rasa: NluFakeRasa, redis_prefix: str) -> AsyncIterator[tuple[Gateway, Gateway]]:
    stores = [redis_stores(REDIS_URL, prefix=redis_prefix, consumer=name)
              for name in ("first", "second")]
    running: list[Running] = []
    for built in stores:
        running.append(await start_gateway(fake_rasa, fake_rasa.url,  # type: ignore[attr-defined]
                                           stores=built, env={"AGENT_ACCOUNTS": AGENT_ACCOUNTS},
                                           pending_retry_interval_s=3600.0))
    yield tuple(Gateway(url=r.url, app=r.app, stores=r.stores, rasa=fake_rasa)  # type: ignore[misc]
                for r in running)
    for r in running:
        await r.stop()
    for built in stores:
        await built.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def agent_on(gateway: Gateway, http: aiohttp.ClientSession) -> tuple[AgentClient, AgentSocket]:
    agent = AgentClient(gateway, http)
    status, _ = await agent.login(ANA)
    assert status == 200
    return agent, await agent.ws()


async def customer_on(gateway: Gateway, http: aiohttp.ClientSession) -> tuple[ChatClient, str]:
    chat = ChatClient(await http.ws_connect(f"{gateway.url}/webchat/ws"))
    await chat.hello()
    cid = await gateway.stores.sessions.get(chat.session or "")
    assert cid is not None
    return chat, cid


async def test_a_case_opened_on_one_instance_reaches_an_agent_on_the_other(
        pair: tuple[Gateway, Gateway], http: aiohttp.ClientSession) -> None:
    first, second = pair
    _, socket = await agent_on(second, http)
    _, cid = await customer_on(first, http)
    case_id = await open_case(first, cid)
    opened = await socket.event("opened", case_id)
    assert opened["status"] == "queued"


async def test_the_customers_messages_reach_an_agent_on_the_other_instance(
        pair: tuple[Gateway, Gateway], http: aiohttp.ClientSession) -> None:
    first, second = pair
    _, socket = await agent_on(second, http)
    chat, cid = await customer_on(first, http)
    case_id = await open_case(first, cid)
    await chat.send("is anyone there?")
    event = await socket.event("customer_message", case_id)
    assert event["text"] == "is anyone there?"


async def test_a_claim_on_one_instance_is_seen_by_an_agent_on_the_other(
        pair: tuple[Gateway, Gateway], http: aiohttp.ClientSession) -> None:
    first, second = pair
    watcher = AgentClient(first, http)
    status, _ = await watcher.login(ANA)
    assert status == 200
    socket = await watcher.ws()
    _, cid = await customer_on(first, http)
    case_id = await open_case(first, cid)
    claimer = AgentClient(second, http)
    await claimer.login(ANA)
    status, _ = await claimer.post(f"/cases/{case_id}/claim")
    assert status == 200
    claimed = await socket.event("claimed", case_id)
    assert claimed["actor"] == ANA


async def test_a_reply_from_one_instance_reaches_a_tab_connected_to_the_other(
        pair: tuple[Gateway, Gateway], http: aiohttp.ClientSession) -> None:
    first, second = pair
    chat, cid = await customer_on(first, http)
    case_id = await open_case(first, cid)
    agent, _ = await agent_on(second, http)
    await agent.post(f"/cases/{case_id}/claim")
    joined = await chat.reply()
    assert "joined the chat" in joined["text"]
    await agent.post(f"/cases/{case_id}/reply", {"text": "Hello from the other instance"})
    reply = await chat.reply()
    assert (reply["role"], reply["text"]) == ("agent", "Hello from the other instance")


async def test_an_agent_on_either_instance_counts_as_present(
        pair: tuple[Gateway, Gateway], http: aiohttp.ClientSession) -> None:
    first, second = pair
    for gateway in pair:
        gateway.desk.availability.presence_required = True  # AGENT_PRESENCE_REQUIRED=1
    _, socket = await agent_on(second, http)
    _, cid = await customer_on(first, http)
    case_id = await open_case(first, cid)
    assert (await first.desk.get(case_id)).status is CaseStatus.QUEUED  # not a follow-up
    await socket.close()
