"""action_order_status against a fake orders service: every outcome gets an honest reply."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.order_actions import ActionOrderStatus
from actions.steps import VERIFICATION_FAILED, Step, StepKind
from tests.actions.conftest import said, slot_events, tracker
from tests.fakes.backend import FakeBackend


async def run(order_id: str = "482913", contact: str = "jane.doe@example.com") -> tuple[list[str], dict, CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await ActionOrderStatus().run(
        dispatcher, tracker(slots={"order_id": order_id, "order_contact": contact}), {})
    return said(dispatcher), slot_events(events), dispatcher


async def test_found_order_gives_status_carrier_tracking_and_delivery(backend: FakeBackend) -> None:
    texts, slots, _ = await run()
    assert len(texts) == 1
    assert "has shipped" in texts[0] and "UPS" in texts[0]
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in texts[0]
    assert "Wednesday, November 25" in texts[0]
    assert slots["handoff_offered"] is False


async def test_slots_holding_pii_are_cleared_after_the_lookup(backend: FakeBackend) -> None:
    _, slots, _ = await run()
    assert slots["order_id"] is None and slots["order_contact"] is None


async def test_lookup_is_recorded_as_a_step_tried(backend: FakeBackend) -> None:
    _, slots, _ = await run()
    [step] = [Step.from_slot(s) for s in slots["steps_tried"]]
    assert step == Step(StepKind.ORDER_LOOKUP, "found, status shipped", "#482913")
    assert step.describe() == "looked up order #482913: found, status shipped"


async def test_unknown_order_says_so_and_offers_a_person(backend: FakeBackend) -> None:
    texts, slots, dispatcher = await run(order_id="999999")
    assert texts == [replies.ORDER_NOT_FOUND.format(order_id="999999")]
    assert slots["handoff_offered"] is True
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/human_handoff"


async def test_failed_verification_leaks_nothing_about_the_order(backend: FakeBackend) -> None:
    texts, slots, _ = await run(contact="mallory@example.com")
    assert texts == [replies.VERIFICATION_FAILED]
    for detail in ("shipped", "UPS", "1Z999", "Merino"):
        assert detail not in texts[0]
    assert slots["handoff_offered"] is True


@pytest.mark.parametrize("statuses", [[500, 500, 500], [503, 502, 504]])
async def test_backend_down_after_retries_is_told_honestly(backend: FakeBackend, statuses: list[int]) -> None:
    backend.fail_statuses = statuses
    texts, slots, _ = await run()
    assert texts == [replies.ORDERS_UNAVAILABLE]
    assert len(backend.calls) == 3  # one try + two retries
    assert slots["handoff_offered"] is True


async def test_transient_5xx_is_retried_and_succeeds(backend: FakeBackend) -> None:
    backend.fail_statuses = [503]
    texts, _, _ = await run()
    assert "has shipped" in texts[0]
    assert len(backend.calls) == 2


async def test_slow_backend_times_out_into_an_honest_reply(backend: FakeBackend) -> None:
    backend.delay_s = 1.0  # over the 0.5 s timeout set for tests
    texts, _, _ = await run()
    assert texts == [replies.ORDERS_UNAVAILABLE]


async def test_unreachable_backend_is_told_honestly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_API_URL", "http://127.0.0.1:9")  # nothing listens on discard
    monkeypatch.setenv("BACKEND_RETRIES", "1")
    texts, _, _ = await run()
    assert texts == [replies.ORDERS_UNAVAILABLE]


async def test_too_many_verification_attempts(backend: FakeBackend) -> None:
    backend.fail_statuses = [429]
    texts, _, _ = await run()
    assert texts == [replies.TOO_MANY_ORDER_ATTEMPTS]
    assert len(backend.calls) == 1  # a 4xx is an answer, never retried


async def test_second_failed_verification_in_a_row_hands_over(backend: FakeBackend) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionOrderStatus().run(dispatcher, tracker(slots={
        "order_id": "482913", "order_contact": "mallory@example.com",
        "steps_tried": [Step(StepKind.ORDER_LOOKUP, VERIFICATION_FAILED, "#482913").to_slot()]}), {})
    assert said(dispatcher) == [replies.VERIFICATION_FAILED_TWICE]
    assert {"event": "followup", "name": "action_handoff_to_human"} in [
        {"event": e["event"], "name": e.get("name")} for e in events if e["event"] == "followup"]
