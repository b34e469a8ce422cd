"""GET /metrics: Prometheus text for operators with the bearer token, nothing for anyone else
(the gateway's port is the public webhook port), and the figures move with real traffic."""

from __future__ import annotations

from typing import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import DESK_KEY
from bot.stores import Stores
from tests.chat_client import ChatClient
from tests.fakes.rasa import FakeRasa
from tests.gateway.conftest import Gateway
from tests.gateways import start_gateway

TOKEN = "metrics-token-for-tests"


@pytest.fixture
async def gateway(fake_rasa: tuple[FakeRasa, str], stores: Stores) -> AsyncIterator[Gateway]:
    rasa, rasa_url = fake_rasa
    running = await start_gateway(rasa, rasa_url, stores=stores, metrics_token=TOKEN)
    gateway = Gateway(url=running.url, engine=running.engine, stores=stores, rasa=rasa)
    gateway.desk = running.app[DESK_KEY]  # type: ignore[attr-defined]
    yield gateway
    await running.stop()


async def scrape(gateway: Gateway, authorization: str | None) -> tuple[int, str]:
    headers = {"Authorization": authorization} if authorization else {}
    async with aiohttp.ClientSession() as http:
        async with http.get(gateway.url + "/metrics", headers=headers) as resp:
            return resp.status, await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
async def test_metrics_need_the_bearer_token(gateway: Gateway, authorization: str | None) -> None:
    status, body = await scrape(gateway, authorization)
    assert status == 401 and "helpdesk_" not in body


async def test_messages_turns_and_acknowledgements_are_counted(
        gateway: Gateway, open_chat) -> None:
    chat: ChatClient = await open_chat()
    await chat.hello()
    await chat.turn("hello there")
    await chat.turn("and again")
    status, body = await scrape(gateway, f"Bearer {TOKEN}")
    assert status == 200
    found = samples(body)
    assert found[("helpdesk_messages_total", (("channel", "web"),))] == 2
    assert found[("helpdesk_turn_seconds_count", (("channel", "web"),))] == 2
    assert found[("helpdesk_rasa_seconds_count", ())] == 2
    assert found[("helpdesk_queue_wait_seconds_count", (("channel", "web"),))] == 2


async def test_without_a_token_metrics_are_off(fake_rasa: tuple[FakeRasa, str],
                                               stores: Stores) -> None:
    rasa, rasa_url = fake_rasa
    running = await start_gateway(rasa, rasa_url, stores=stores)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(running.url + "/metrics",
                                headers={"Authorization": "Bearer "}) as resp:
                assert resp.status == 404
    finally:
        await running.stop()


async def test_handoffs_by_trigger_and_request_latency_are_counted(gateway: Gateway) -> None:
    from tests.console.conftest import a_package
    from tests.gateways import HANDOFF_SECRET

    async with aiohttp.ClientSession() as http:
        async with http.post(gateway.url + "/handoff/v1/cases",
                             json=a_package("web:metrics-1", trigger="negative_sentiment"),
                             headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
            assert resp.status == 201
            case_id = (await resp.json())["case_id"]
    await gateway.desk.claim(case_id, "ana@example.com")  # type: ignore[attr-defined]
    found = samples((await scrape(gateway, f"Bearer {TOKEN}"))[1])
    assert found[("helpdesk_handoffs_total", (("trigger", "negative_sentiment"),))] == 1
    assert found[("helpdesk_webhook_ack_seconds_count",
                  (("route", "/handoff/v1/cases"), ("status", "201")))] == 1
    assert found[("helpdesk_agent_response_seconds_count", ())] == 1
