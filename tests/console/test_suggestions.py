"""Suggested replies: the best three FAQ answers Rasa's response selector ranks for the customer's
last message; an empty list with a note (never a 500) when Rasa cannot help."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from inbox.suggestions import (NO_MATCH_NOTE, NO_MESSAGE_NOTE, UNAVAILABLE_NOTE, faq_answers,
                               ranked_topics, suggest)
from tests.console.conftest import AgentClient, Customer, Gateway, open_case


async def test_top_three_faq_answers_for_the_last_customer_message(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    await visitor.chat.send("can I get a refund instead?")
    await visitor.chat.reply()
    status, body = await ana.get(f"/cases/{case_id}/suggestions")
    assert status == 200
    assert gateway.rasa.parsed[-1] == "can I get a refund instead?"
    answers = faq_answers()
    assert body == {"note": None, "suggestions": [
        {"topic": "refund_time", "text": answers["refund_time"], "confidence": 0.72},
        {"topic": "return_policy", "text": answers["return_policy"], "confidence": 0.24},
        {"topic": "cancel_order", "text": answers["cancel_order"], "confidence": 0.04},
    ]}


async def test_more_than_three_ranked_gives_the_best_three(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, _ = case  # last customer message: "my parcel has not arrived" (five ranked)
    _, body = await ana.get(f"/cases/{case_id}/suggestions")
    assert [s["topic"] for s in body["suggestions"]] == ["shipping_time", "shipping_cost",
                                                        "international_shipping"]
    assert body["suggestions"][0]["text"].startswith("Standard shipping takes 3-5 business days")


async def test_topics_without_an_answer_are_skipped(gateway: Gateway, ana: AgentClient,
                                                    case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    await visitor.chat.send("hello?")
    await visitor.chat.reply()
    _, body = await ana.get(f"/cases/{case_id}/suggestions")
    assert [s["topic"] for s in body["suggestions"]] == ["support_hours", "gift_cards", "warranty"]


async def test_rasa_down_gives_an_empty_list_and_a_note(gateway: Gateway, ana: AgentClient,
                                                        case: tuple[str, Customer]) -> None:
    gateway.rasa.parse_down = True
    status, body = await ana.get(f"/cases/{case[0]}/suggestions")
    assert status == 200
    assert body == {"suggestions": [], "note": UNAVAILABLE_NOTE}


async def test_rasa_unreachable_gives_an_empty_list_and_a_note() -> None:
    class Unreachable:
        async def parse(self, text: str) -> dict[str, Any]:
            raise aiohttp.ClientConnectionError("connection refused")

    assert await suggest(Unreachable(), "where is my parcel") == {
        "suggestions": [], "note": UNAVAILABLE_NOTE}


async def test_nothing_ranked_says_so(gateway: Gateway, ana: AgentClient,
                                      case: tuple[str, Customer]) -> None:
    gateway.rasa.ranking = lambda text: []
    _, body = await ana.get(f"/cases/{case[0]}/suggestions")
    assert body == {"suggestions": [], "note": NO_MATCH_NOTE}


async def test_suggestions_use_the_package_transcript_when_there_is_no_other(
        gateway: Gateway, ana: AgentClient) -> None:
    case_id = await open_case(gateway, "web:package-only")
    _, body = await ana.get(f"/cases/{case_id}/suggestions")
    assert gateway.rasa.parsed[-1] == "this is useless, I want a person"
    assert len(body["suggestions"]) == 3


async def test_no_customer_message_at_all() -> None:
    class Never:
        async def parse(self, text: str) -> dict[str, Any]:
            raise AssertionError("not called")

    assert await suggest(Never(), None) == {"suggestions": [], "note": NO_MESSAGE_NOTE}


@pytest.mark.parametrize("parsed, expected", [
    ({}, []),
    ({"response_selector": {"faq": {"ranking": None}}}, []),
    ({"response_selector": {"faq": {"ranking": [
        {"intent_response_key": "faq/a", "confidence": 0.1},
        {"intent_response_key": "chitchat/b", "confidence": 0.9},
        {"intent_response_key": "faq/c", "confidence": "junk"},
        "not a dict",
        {"intent_response_key": "faq/d", "confidence": 0.5}]}}}, [("d", 0.5), ("a", 0.1)]),
])
def test_ranking_is_read_defensively(parsed: dict[str, Any], expected: list[Any]) -> None:
    assert ranked_topics(parsed) == expected


def test_every_faq_topic_in_the_training_data_has_an_answer() -> None:
    import yaml
    from inbox.suggestions import FAQ_FILE
    data = yaml.safe_load(FAQ_FILE.read_text())
    topics = {item["intent"].split("/", 1)[1] for item in data["nlu"]
              if item.get("intent", "").startswith("faq/")}
    assert topics and topics <= set(faq_answers())
