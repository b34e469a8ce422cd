"""Correcting the bot from the console: an agent marks one of the case customer's messages with
the intent it meant; it is stored as a training candidate (analytics), audited, and refused for
unknown intents and for text the customer never wrote."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from analytics.records import Kind
from analytics.store import AnalyticsStore
from tests.analytics.gateway_settings import PSEUDONYMS, analytics_settings
from tests.console.conftest import (AGENT_ACCOUNTS, ANA, AgentClient, AgentFactory, Customer,
                                    Gateway, NluFakeRasa)
from tests.gateways import start_gateway


@pytest.fixture
async def gateway(fake_rasa: NluFakeRasa, stores, tmp_path: Path) -> AsyncIterator[Gateway]:
    running = await start_gateway(fake_rasa, fake_rasa.url,  # type: ignore[attr-defined]
                                  stores=stores, env={"AGENT_ACCOUNTS": AGENT_ACCOUNTS},
                                  pending_retry_interval_s=3600.0,
                                  **analytics_settings(tmp_path / "a.db"))
    yield Gateway(url=running.url, app=running.app, stores=stores, rasa=fake_rasa)
    await running.stop()


async def labels(tmp_path: Path) -> list:
    store = AnalyticsStore(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        return [r for r in await store.records() if r.kind is Kind.RELABELLED]
    finally:
        await store.close()


async def customer_text(ana: AgentClient, case_id: str) -> str:
    _, detail = await ana.get(f"/cases/{case_id}")
    return next(e["text"] for e in detail["transcript"] if e["role"] == "customer")


async def test_a_correction_is_recorded_for_the_trainers(
        ana: AgentClient, case: tuple[str, Customer], tmp_path: Path, gateway: Gateway) -> None:
    case_id, visitor = case
    text = await customer_text(ana, case_id)
    status, _ = await ana.post(f"/cases/{case_id}/relabel",
                               {"text": text, "intent": "faq/shipping_time", "wrong_answer": True})
    assert status == 200
    (label,) = await labels(tmp_path)
    assert (label.intent, label.text, label.action) == ("faq/shipping_time", text, "wrong_answer")
    assert label.conversation == PSEUDONYMS.of(visitor.conversation_id)
    audit = await gateway.stores.audit.recent(limit=3)
    assert audit[-1]["action"] == "relabel" and audit[-1]["agent"] == ANA


async def test_the_intents_come_from_the_domain_and_the_faqs(ana: AgentClient) -> None:
    _, body = await ana.get("/intents")
    assert body["relabel"] is True
    assert {"order_status", "complaint", "faq/shipping_time"} <= set(body["intents"])
    assert "faq" not in body["intents"]


@pytest.mark.parametrize(("change", "error"), [
    ({"intent": "grumpy"}, "unknown_intent"),
    ({"text": "something the customer never said"}, "not_in_case"),
    ({"wrong_answer": "yes"}, "bad_request"),
])
async def test_bad_corrections_are_refused(ana: AgentClient, case: tuple[str, Customer],
                                           tmp_path: Path, change: dict, error: str) -> None:
    case_id, _ = case
    body = {"text": await customer_text(ana, case_id), "intent": "complaint",
            "wrong_answer": False, **change}
    status, answer = await ana.post(f"/cases/{case_id}/relabel", body)
    assert (status, answer["error"]) == (400, error)
    assert await labels(tmp_path) == []


async def test_signed_out_cannot_correct(agent_client: AgentFactory,
                                         case: tuple[str, Customer]) -> None:
    anonymous = await agent_client()
    status, _ = await anonymous.post(f"/cases/{case[0]}/relabel", {"intent": "complaint"})
    assert status == 401


async def test_a_correction_needs_the_consoles_origin(ana: AgentClient,
                                                      case: tuple[str, Customer],
                                                      tmp_path: Path) -> None:
    case_id, _ = case
    body = {"text": await customer_text(ana, case_id), "intent": "complaint"}
    status, answer = await ana.post(f"/cases/{case_id}/relabel", body, origin=None)
    assert (status, answer["error"]) == (403, "bad_origin")
    assert await labels(tmp_path) == []
