"""The gateway escalates by itself on escalation.yml rules and sentiment, and says why."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Gateway


async def test_billing_dispute_escalates_instead_of_letting_the_bot_answer(
        open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    answer = await chat.turn("you charged me twice and I want a chargeback")
    assert "case C-" in answer[0]["text"]
    assert gateway.rasa.received == []  # the bot never answered it
    cid, events = gateway.rasa.api_events[0]
    assert events[0]["event"] == "user" and "chargeback" in events[0]["text"]
    assert gateway.rasa.triggered == [(cid, "human_handoff", {"handoff_trigger": {
        "kind": "rule", "detail": 'billing dispute or refund fight (said: "charged me twice")',
        "message": "you charged me twice and I want a chargeback"}})]


async def test_the_case_records_the_rule_that_fired(open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.turn("you charged me twice and I want a chargeback")
    [case] = await gateway.stores.cases.waiting()
    assert case.trigger["kind"] == "rule" and "billing dispute" in case.trigger["detail"]


async def test_strong_negative_sentiment_escalates(open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.turn("this is the worst, most useless and disgusting service ever")
    trigger = gateway.rasa.triggered[0][2]["handoff_trigger"]
    assert trigger["kind"] == "negative_sentiment"


async def test_calm_messages_go_to_the_bot(open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.turn("how long does shipping take")
    assert gateway.rasa.texts() == ["how long does shipping take"]
    assert gateway.rasa.triggered == []


async def test_escalation_while_rasa_is_down_opens_a_case_directly(
        open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.down = True
    chat = await open_chat()
    await chat.hello()
    answer = await chat.turn("my lawyer is going to sue you")
    assert "support team" in answer[0]["text"]
    [case] = await gateway.stores.cases.waiting()
    assert case.trigger["kind"] == "rule" and "legal threat" in case.trigger["detail"]
