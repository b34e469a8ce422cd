"""Two agents press Claim at the same moment: exactly one gets the case, the other a clear 409.
Run against the in-process stores and the real Redis (compare-and-set in both)."""

from __future__ import annotations

from bot.state import CaseStatus

import asyncio

import pytest

from tests.console.conftest import ANA, BO, AgentClient, Customer, Gateway, open_case


@pytest.mark.parametrize("stores", ["memory", "redis"], indirect=True)
async def test_two_agents_claim_at_once_and_exactly_one_wins(
        gateway: Gateway, ana: AgentClient, bo: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    (status_a, body_a), (status_b, body_b) = await asyncio.gather(
        ana.post(f"/cases/{case_id}/claim"), bo.post(f"/cases/{case_id}/claim"))
    assert sorted([status_a, status_b]) == [200, 409]
    winner, loser_body = (ANA, body_b) if status_a == 200 else (BO, body_a)
    winner_name = "Ana" if winner == ANA else "Bo"
    assert loser_body["error"] == "conflict"
    assert loser_body["message"] == f"{winner_name} already claimed this case."
    assert loser_body["case"]["agent"] == winner

    stored = await gateway.stores.cases.get(case_id)
    assert stored.status is CaseStatus.ACTIVE and stored.agent == winner
    # The customer hears about one agent only.
    joined = await visitor.chat.reply()
    assert joined["text"].startswith(f"{winner_name} from our support team has joined")
    assert await visitor.chat.silence(0.3) == []
    claims = [e for e in await gateway.stores.audit.recent(limit=50) if e["action"] == "claim"]
    assert [e["agent"] for e in claims] == [winner]


@pytest.mark.parametrize("stores", ["memory", "redis"], indirect=True)
async def test_many_cases_claimed_concurrently_each_have_one_owner(
        gateway: Gateway, ana: AgentClient, bo: AgentClient) -> None:
    ids = [await open_case(gateway, f"web:race-{n}") for n in range(6)]
    results = await asyncio.gather(*(agent.post(f"/cases/{case_id}/claim")
                                     for case_id in ids for agent in (ana, bo)))
    statuses = [status for status, _ in results]
    for n in range(len(ids)):
        assert sorted(statuses[2 * n:2 * n + 2]) == [200, 409]
    for case_id in ids:
        assert (await gateway.stores.cases.get(case_id)).status is CaseStatus.ACTIVE


async def test_claiming_your_own_case_again_says_so(gateway: Gateway, ana: AgentClient,
                                                    case: tuple[str, Customer]) -> None:
    case_id, _ = case
    assert (await ana.post(f"/cases/{case_id}/claim"))[0] == 200
    status, body = await ana.post(f"/cases/{case_id}/claim")
    assert status == 409 and body["message"] == "You already have this case."
