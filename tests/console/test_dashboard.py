"""The leads' dashboard API: figures of the scripted week (tests/analytics/script.py) as the
analytics package computes them, flagged conversations with reasons and transcripts, the review
mark, and who may see any of it."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest

from analytics.figures import compute
from analytics.store import AnalyticsStore
from inbox.agents import hash_password
from tests.analytics.script import PSEUDONYMS, T0, WEEK_END, records_of, the_week
from tests.console.conftest import (ANA, BO, PASSWORDS, AgentClient, AgentFactory, Gateway,
                                    NluFakeRasa)
from tests.gateways import start_gateway

ACCOUNTS = f"{ANA}:{hash_password(PASSWORDS[ANA])}:lead,{BO}:{hash_password(PASSWORDS[BO])}"


@pytest.fixture
async def analytics_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    store = AnalyticsStore(url)
    await store.add(records_of(the_week()))
    await store.close()
    return url


@pytest.fixture
async def gateway(fake_rasa: NluFakeRasa, stores, analytics_url: str) -> AsyncIterator[Gateway]:
    running = await start_gateway(fake_rasa, fake_rasa.url,  # type: ignore[attr-defined]
                                  stores=stores, env={"AGENT_ACCOUNTS": ACCOUNTS},
                                  pending_retry_interval_s=3600.0, analytics_db_url=analytics_url)
    gateway = Gateway(url=running.url, app=running.app, stores=stores, rasa=fake_rasa)
    assert gateway.console.analytics is not None
    gateway.console.analytics.clock = lambda: WEEK_END  # "the last 7 days" are the scripted week
    yield gateway
    await running.stop()


@pytest.fixture
async def lead(agent_client: AgentFactory) -> AgentClient:
    return await agent_client(ANA)


async def test_a_lead_gets_the_weeks_figures(lead: AgentClient) -> None:
    status, body = await lead.get("/dashboard?days=7")
    assert status == 200
    expected = compute(records_of(the_week()), since=T0, until=WEEK_END, now=WEEK_END)
    assert body["figures"] == _jsonish(expected.as_dict())
    assert body["figures"]["containment_rate"] == pytest.approx(4 / 7)
    assert body["channels"] == ["slack", "sms", "telegram", "web"]


async def test_figures_per_channel(lead: AgentClient) -> None:
    _, body = await lead.get("/dashboard?days=7&channel=web")
    assert (body["figures"]["conversations"], body["figures"]["containment_rate"]) == (4, 1.0)


async def test_flagged_conversations_come_with_their_reasons(lead: AgentClient) -> None:
    _, body = await lead.get("/dashboard?days=7")
    by_conversation = {i["conversation"]: i for i in body["flagged"]}
    slack = by_conversation[PSEUDONYMS.of("slack:U5")]
    assert {f["flag"] for f in slack["flags"]} == {"handoff_after_wrong_answer", "slow_agent_reply",
                                                   "resolved_without_rating"}
    assert (body["flagged_total"], body["flagged_open"]) == (4, 4)


async def test_a_flagged_transcript_is_redacted_and_its_view_audited(lead: AgentClient,
                                                                     gateway: Gateway) -> None:
    _, body = await lead.get("/dashboard?days=7")
    item = next(i for i in body["flagged"] if i["conversation"] == PSEUDONYMS.of("sms:+15550000002"))
    status, view = await lead.get(f"/dashboard/conversations/{item['conversation']}"
                                  f"?started_at={item['started_at']}")
    assert status == 200
    texts = [line["text"] for line in view["transcript"] if line["who"] == "customer"]
    assert texts == ["where is order 482913", "you are useless", "talk to a person"]
    audit = await gateway.stores.audit.recent(limit=5)
    assert audit[-1]["action"] == "quality_view" and audit[-1]["agent"] == ANA


async def test_marking_reviewed_is_remembered(lead: AgentClient) -> None:
    _, body = await lead.get("/dashboard?days=7")
    item = body["flagged"][0]
    status, _ = await lead.post(f"/dashboard/conversations/{item['conversation']}/reviewed",
                                {"started_at": item["started_at"]})
    assert status == 200
    _, after = await lead.get("/dashboard?days=7")
    assert after["flagged_open"] == 3
    assert [i["reviewed"] for i in after["flagged"]][-1] is True  # reviewed ones go last


async def test_an_agent_without_the_lead_role_is_refused(agent_client: AgentFactory) -> None:
    status, body = await (await agent_client(BO)).get("/dashboard?days=7")
    assert (status, body["error"]) == (403, "not_a_lead")


async def test_signed_out_is_refused(agent_client: AgentFactory) -> None:
    status, _ = await (await agent_client()).get("/dashboard")
    assert status == 401


@pytest.mark.parametrize("path", [
    "/dashboard?days=seven", "/dashboard?channel=Web%20Chat",
    "/dashboard/conversations/0123456789abcdef01234567?started_at=soon",
])
async def test_bad_queries_get_a_400(lead: AgentClient, path: str) -> None:
    assert (await lead.get(path))[0] == 400


@pytest.mark.parametrize("path", [
    "/dashboard/conversations/not-a-pseudonym?started_at=1",
    "/dashboard/conversations/0123456789abcdef01234567?started_at=1",
    "/dashboard/conversations/0123456789abcdef01234567?started_at=inf",
])
async def test_unknown_conversations_get_a_404(lead: AgentClient, path: str) -> None:
    assert (await lead.get(path))[0] == 404


async def test_without_analytics_the_dashboard_says_so(fake_rasa: NluFakeRasa, stores) -> None:
    running = await start_gateway(fake_rasa, fake_rasa.url,  # type: ignore[attr-defined]
                                  stores=stores, env={"AGENT_ACCOUNTS": ACCOUNTS})
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            client = AgentClient(Gateway(url=running.url, app=running.app, stores=stores,
                                         rasa=fake_rasa), http)
            await client.login(ANA)
            status, body = await client.get("/dashboard")
        assert (status, body["error"]) == (404, "analytics_off")
    finally:
        await running.stop()


def _jsonish(value: object) -> object:
    import json
    return json.loads(json.dumps(value))


async def test_marking_reviewed_needs_the_consoles_origin(lead: AgentClient) -> None:
    _, body = await lead.get("/dashboard?days=7")
    item = body["flagged"][0]
    path = f"/dashboard/conversations/{item['conversation']}/reviewed"
    for origin in (None, "https://evil.example"):
        status, answer = await lead.post(path, {"started_at": item["started_at"]}, origin=origin)
        assert (status, answer["error"]) == (403, "bad_origin")


async def test_the_week_by_hand(lead: AgentClient) -> None:
    """The figures the page shows, against tests/analytics/test_figures.py's hand-worked values."""
    _, body = await lead.get("/dashboard?days=7")
    f = body["figures"]
    assert (f["conversations"], f["ongoing"], f["unanswered_cases"]) == (7, 1, 1)
    assert f["escalations_by_trigger"] == {"customer_request": 2, "repeated_fallback": 1}
    assert f["fallback_rate"] == pytest.approx(3 / 15)
    assert f["csat_distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert f["first_human_reply"] == {"count": 2, "median_s": 360.0, "p90_s": 600.0}


async def test_a_dashboard_socket_does_not_make_its_lead_available(lead: AgentClient,
                                                                   gateway: Gateway) -> None:
    import json as json_module

    ws = await lead.http.ws_connect(gateway.url + "/console/ws?purpose=dashboard",
                                    headers={"Origin": gateway.origin})
    try:
        hello = json_module.loads((await ws.receive()).data)
        assert hello["type"] == "hello" and hello["online"] == []
        assert await gateway.stores.kv.keys("agent-presence") == []
    finally:
        await ws.close()
