"""action_handoff_to_human pushes a valid package to the real gateway handoff endpoint."""

from __future__ import annotations

import pytest
from aiohttp import web
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.conversation_actions import NOT_UNDERSTOOD_TWICE
from actions.handoff_actions import ActionHandoffToHuman
from actions.steps import VERIFICATION_FAILED, Step, StepKind
from bot.cases import CaseDesk
from bot.handoff import handoff_app
from bot.stores import Stores, memory_stores
from tests.actions.conftest import said, slot_events, tracker
from tests.conftest import Serve

SECRET = "s3cret"
EVENTS = [
    {"event": "user", "text": "where is my order", "timestamp": 1.0,
     "metadata": {"channel": "web", "customer_id": "web:visitor-1"},
     "parse_data": {"intent": {"name": "order_status", "confidence": 0.95}}},
    {"event": "bot", "text": "What's your order number?", "timestamp": 1.1},
    {"event": "user", "text": "i want a human", "timestamp": 2.0,
     "metadata": {"channel": "web", "customer_id": "web:visitor-1"},
     "parse_data": {"intent": {"name": "human_handoff", "confidence": 0.99}}},
]


@pytest.fixture
async def inbox(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> Stores:
    stores = memory_stores()
    gateway = web.Application()
    gateway.add_subapp("/handoff/", handoff_app(CaseDesk(stores), SECRET))
    url = await serve(gateway)
    monkeypatch.setenv("GATEWAY_HANDOFF_URL", f"{url}/handoff/v1/cases")
    monkeypatch.setenv("HANDOFF_SECRET", SECRET)
    return stores


async def run_handoff(**kwargs) -> tuple[list[str], dict]:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoffToHuman().run(dispatcher, tracker(**kwargs), {})
    return said(dispatcher), slot_events(events)


async def test_handoff_opens_a_case_and_tells_the_customer(inbox: Stores) -> None:
    texts, slots = await run_handoff(events=EVENTS, latest=EVENTS[-1]["parse_data"] | {"text": "i want a human"})
    [case] = await inbox.cases.waiting()
    assert case.case_id in texts[0] and "number 1 in the queue" in texts[0]
    assert slots["handoff_case_id"] == case.case_id


async def test_the_action_pauses_the_conversation_itself(inbox: Stores) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoffToHuman().run(dispatcher, tracker(events=EVENTS), {})
    assert events[-1]["event"] == "pause"


async def test_package_carries_channel_customer_trigger_and_transcript(inbox: Stores) -> None:
    await run_handoff(events=EVENTS, latest=EVENTS[-1]["parse_data"],
                      active_loop={"name": "order_status_form"})
    [case] = await inbox.cases.waiting()
    package = case.package
    assert package["channel"] == "web" and package["customer"]["id"] == "web:visitor-1"
    assert package["trigger"] == {"kind": "customer_request",
                                  "detail": "customer asked for a person during order_status_form"}
    assert [line["text"] for line in package["transcript"]] == [
        "where is my order", "What's your order number?", "i want a human"]


async def test_accepting_an_offer_is_recorded_as_the_trigger(inbox: Stores) -> None:
    await run_handoff(events=EVENTS, latest={"intent": {"name": "affirm", "confidence": 0.9}},
                      slots={"handoff_offered": True,
                             "steps_tried": [Step(StepKind.ORDER_LOOKUP, VERIFICATION_FAILED, "#482913").to_slot()]})
    package = (await inbox.cases.waiting())[0].package
    assert package["trigger"]["kind"] == "offer_accepted"
    assert "verification failed" in package["trigger"]["detail"]


async def test_handoff_leaves_any_form_and_clears_the_offer(inbox: Stores) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoffToHuman().run(
        dispatcher, tracker(events=EVENTS, active_loop={"name": "password_reset_form"}), {})
    assert {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e.get("name")} for e in events if e["event"] == "active_loop"]
    assert slot_events(events)["handoff_offered"] is False


async def test_unreachable_inbox_is_told_honestly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_HANDOFF_URL", "http://127.0.0.1:9/handoff/v1/cases")
    dispatcher = CollectingDispatcher()
    events = await ActionHandoffToHuman().run(dispatcher, tracker(events=EVENTS), {})
    assert said(dispatcher) == [replies.HANDOFF_FAILED]
    assert "handoff_case_id" not in slot_events(events)
    assert "pause" not in [e["event"] for e in events]  # nobody has it: the bot keeps it


async def test_wrong_secret_is_refused_and_told_honestly(inbox: Stores,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_SECRET", "not-the-secret")
    texts, _ = await run_handoff(events=EVENTS)
    assert texts == [replies.HANDOFF_FAILED]
    assert await inbox.cases.waiting() == []


async def test_a_gateway_escalation_is_recorded_as_the_trigger(inbox: Stores) -> None:
    escalation = {"kind": "rule", "detail": "legal threat (said: \"lawyer\")",
                  "message": "my lawyer will call you"}
    latest = {"intent": {"name": "human_handoff", "confidence": 1.0}, "text": "EXTERNAL: human_handoff",
              "entities": [{"entity": "handoff_trigger", "value": escalation}]}
    await run_handoff(events=EVENTS[:2], latest=latest)
    package = (await inbox.cases.waiting())[0].package
    assert package["trigger"] == {"kind": "rule", "detail": escalation["detail"]}
    assert package["transcript"][-1]["text"] == "my lawyer will call you"


FAILED_CHECK = Step(StepKind.ORDER_LOOKUP, VERIFICATION_FAILED, "#1")


@pytest.mark.parametrize("steps, kind", [
    ([FAILED_CHECK, FAILED_CHECK], "repeated_failure"),
    ([NOT_UNDERSTOOD_TWICE], "repeated_failure"),
    ([Step(StepKind.ORDER_LOOKUP, "not found", "#482913")], "offer_accepted"),
    # Steps stored as text before steps had fields: read as what they were.
    (["looked up order #1: verification failed"] * 2, "repeated_failure"),
    (["not understood twice in a row"], "repeated_failure"),
    (["something else entirely"], "offer_accepted"),
])
async def test_repeated_failures_are_told_apart_from_other_accepted_offers(
        inbox: Stores, steps: list[Step | str], kind: str) -> None:
    latest = {"intent": {"name": "affirm", "confidence": 0.9}}
    slot = [s.to_slot() if isinstance(s, Step) else s for s in steps]
    await run_handoff(events=EVENTS, latest=latest,
                      slots={"handoff_offered": True, "steps_tried": slot})
    package = (await inbox.cases.waiting())[0].package
    assert package["trigger"]["kind"] == kind
