"""Agent replies reach the web chat customer as role "agent"; only the claimer may reply."""

from __future__ import annotations

from bot.state import CaseStatus

import pytest

from inbox.console import MAX_REPLY_CHARS
from tests.console.conftest import AgentClient, Customer, Gateway


async def test_reply_reaches_the_web_chat_customer_as_the_agent(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    assert (await ana.post(f"/cases/{case_id}/claim"))[0] == 200
    joined = await visitor.chat.reply()
    assert joined["role"] == "system" and "Ana from our support team" in joined["text"]

    status, body = await ana.post(f"/cases/{case_id}/reply",
                                  {"text": "  Hi! I can see order NW-10442.\nChecking now.  "})
    assert status == 200
    message = await visitor.chat.reply()
    assert message["role"] == "agent"
    assert message["text"] == "Hi! I can see order NW-10442.\nChecking now."
    assert body["transcript"][-1]["role"] == "agent"
    assert body["transcript"][-1]["text"] == "Hi! I can see order NW-10442.\nChecking now."

    # The customer's answer goes to the agent, not to the bot.
    before = len(gateway.rasa.received)
    await visitor.chat.send("thanks, it's urgent")
    await gateway.engine.idle()
    assert len(gateway.rasa.received) == before
    _, detail = await ana.get(f"/cases/{case_id}")
    assert detail["transcript"][-1] == {**detail["transcript"][-1], "role": "customer",
                                        "text": "thanks, it's urgent"}


async def test_reply_by_someone_who_did_not_claim_is_409(
        gateway: Gateway, ana: AgentClient, bo: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    status, body = await bo.post(f"/cases/{case_id}/reply", {"text": "hello?"})
    assert status == 409 and body["message"] == "Claim the case first."
    await ana.post(f"/cases/{case_id}/claim")
    await visitor.chat.reply()
    status, body = await bo.post(f"/cases/{case_id}/reply", {"text": "I'll take over"})
    assert status == 409
    assert body == {**body, "error": "conflict",
                    "message": "Ana is handling this case; only they can do that."}
    assert await visitor.chat.silence(0.3) == []


@pytest.mark.parametrize("action", ["return", "resolve"])
async def test_a_teammate_cannot_close_someone_elses_case(
        gateway: Gateway, ana: AgentClient, bo: AgentClient, case: tuple[str, Customer],
        action: str) -> None:
    case_id, visitor = case
    await ana.post(f"/cases/{case_id}/claim")
    await visitor.chat.reply()
    status, body = await bo.post(f"/cases/{case_id}/{action}")
    assert status == 409 and "Ana is handling this case" in body["message"]
    stored = await gateway.stores.cases.get(case_id)
    assert stored.status is CaseStatus.ACTIVE and stored.agent == "ana@northwind.example"
    assert await visitor.chat.silence(0.3) == []


@pytest.mark.parametrize("action", ["return", "resolve"])
async def test_a_waiting_case_cannot_be_closed_without_claiming(
        ana: AgentClient, case: tuple[str, Customer], action: str) -> None:
    case_id, _ = case
    status, body = await ana.post(f"/cases/{case_id}/{action}")
    assert status == 409 and body["message"] == "Claim the case first."


async def test_reply_to_a_closed_case_is_409(ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, _ = case
    await ana.post(f"/cases/{case_id}/claim")
    await ana.post(f"/cases/{case_id}/resolve")
    status, body = await ana.post(f"/cases/{case_id}/reply", {"text": "one more thing"})
    assert status == 409 and body["message"] == "This case is already closed (resolved)."


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   \n "}, {"text": 42},
                                  {"text": "x" * (MAX_REPLY_CHARS + 1)}, ["text"]])
async def test_bad_replies_are_400(ana: AgentClient, case: tuple[str, Customer],
                                   body: object) -> None:
    case_id, visitor = case
    await ana.post(f"/cases/{case_id}/claim")
    await visitor.chat.reply()
    status, answer = await ana.post(f"/cases/{case_id}/reply", body)
    assert status == 400 and answer["error"] == "bad_request"
    assert await visitor.chat.silence(0.2) == []


async def test_reply_to_an_unknown_case_is_404(ana: AgentClient) -> None:
    status, body = await ana.post("/cases/C-00000000/reply", {"text": "hi"})
    assert status == 404 and body["error"] == "case_not_found"
