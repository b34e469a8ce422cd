"""Handoff cases: typed, with one compare-and-set for every status change."""

from __future__ import annotations

import asyncio

import pytest

from bot.state import CLOSED, CaseStatus
from bot.stores import Stores
from tests.stores.conftest import a_case

QUEUED, ACTIVE, FOLLOW_UP = CaseStatus.QUEUED, CaseStatus.ACTIVE, CaseStatus.FOLLOW_UP


async def test_case_is_created_queued_and_found_by_conversation(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    await stores.cases.create(a_case("C-2", "web:2"))
    assert (await stores.cases.open_case_for("web:2")).case_id == "C-2"
    assert await stores.cases.queue_position("C-1") == 1
    assert await stores.cases.queue_position("C-2") == 2
    assert [c.case_id for c in await stores.cases.waiting()] == ["C-1", "C-2"]
    case = await stores.cases.get("C-1")
    assert case == a_case("C-1", "web:1")


async def test_unknown_case_reads_as_none(stores: Stores) -> None:
    assert await stores.cases.get("C-404") is None
    assert await stores.cases.queue_position("C-404") is None
    assert await stores.cases.open_case_for("web:none") is None
    assert await stores.cases.transition("C-404", from_statuses={QUEUED}, to=ACTIVE) is None


async def test_transition_applies_only_from_the_expected_status(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    claimed = await stores.cases.transition("C-1", from_statuses={QUEUED}, to=ACTIVE,
                                            agent="ana", claimed_at=2.0)
    assert claimed.status is ACTIVE and claimed.agent == "ana" and claimed.claimed_at == 2.0
    assert await stores.cases.transition("C-1", from_statuses={QUEUED}, to=ACTIVE,
                                         agent="bo") is None
    assert (await stores.cases.get("C-1")).agent == "ana"
    assert await stores.cases.waiting() == []


async def test_concurrent_claims_have_exactly_one_winner(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    results = await asyncio.gather(*(
        stores.cases.transition("C-1", from_statuses={QUEUED}, to=ACTIVE, agent=f"agent-{i}")
        for i in range(10)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (await stores.cases.get("C-1")).agent == winners[0].agent


@pytest.mark.parametrize("closing", sorted(CLOSED))
async def test_closing_a_case_frees_the_conversation(stores: Stores, closing: CaseStatus) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    await stores.cases.transition("C-1", from_statuses={QUEUED}, to=closing)
    assert await stores.cases.open_case_for("web:1") is None
    assert (await stores.cases.get("C-1")).status is closing


async def test_follow_ups_are_served_before_the_queue(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    await stores.cases.create(a_case("C-2", "web:2", status=FOLLOW_UP))
    assert [c.case_id for c in await stores.cases.waiting()] == ["C-2", "C-1"]
    assert [c.case_id for c in await stores.cases.recent(limit=10)] == ["C-2", "C-1"]


async def test_fields_other_than_the_status_can_be_set(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    assert (await stores.cases.update("C-1", csat=5)).csat == 5
    with pytest.raises(ValueError):
        await stores.cases.update("C-1", status=CaseStatus.RESOLVED)
    with pytest.raises(TypeError):
        await stores.cases.update("C-1", package={})


async def test_every_case_of_a_conversation_can_be_deleted(stores: Stores) -> None:
    await stores.cases.create(a_case("C-1", "web:1"))
    await stores.cases.transition("C-1", from_statuses={QUEUED}, to=CaseStatus.RETURNED)
    await stores.cases.create(a_case("C-2", "web:1"))
    await stores.cases.create(a_case("C-3", "web:2"))
    deleted = await stores.cases.delete_for("web:1")
    assert sorted(c.case_id for c in deleted) == ["C-1", "C-2"]
    assert await stores.cases.get("C-1") is None and await stores.cases.get("C-2") is None
    assert await stores.cases.open_case_for("web:1") is None
    assert [c.case_id for c in await stores.cases.waiting()] == ["C-3"]
    assert [c.case_id for c in await stores.cases.recent(limit=10)] == ["C-3"]
