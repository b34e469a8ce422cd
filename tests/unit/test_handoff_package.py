"""The context package an agent receives: complete, redacted, and valid against schema v1."""

from __future__ import annotations

from typing import Any

import pytest

from bot.handoff_package import UNAVAILABLE_WANTS, build_package, package_from_transcript
from bot.handoff import package_errors


def user(text: str, intent: str, confidence: float = 0.9, ts: float = 1.0,
         response_key: str | None = None) -> dict[str, Any]:
    parse: dict[str, Any] = {"intent": {"name": intent, "confidence": confidence}}
    if response_key:
        parse["response_selector"] = {"faq": {"response": {"intent_response_key": response_key}}}
    return {"event": "user", "text": text, "timestamp": ts, "parse_data": parse}


def bot(text: str, ts: float = 1.5) -> dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": ts}


EVENTS = [
    {"event": "session_started", "timestamp": 0.5},
    user("hi", "greet", ts=1),
    bot("Hi! I'm Northwind Goods' automated assistant"),
    user("where is my order 482913, mail jane.doe@example.com", "order_status", 0.97, ts=2),
    bot("Sorry, I couldn't verify that order"),
    user("how long does shipping take", "faq", 0.8, ts=3, response_key="faq/shipping_time"),
    user("this is useless, my card 4111 1111 1111 1111 was charged twice!!", "complaint", 0.9, ts=4),
    user("agent", "human_handoff", 1.0, ts=5),
]


def package(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(
        conversation_id="web:abc", channel="web", customer_id="web:abc", events=EVENTS,
        slots={"order_id": "482913", "order_contact": "jane.doe@example.com",
               "reset_attempts": [1.0], "handoff_offered": False},
        steps_tried=["looked up order #482913: verification failed"],
        trigger_kind="customer_request", trigger_detail="customer asked for a person",
    )
    args.update(overrides)
    return build_package(**args)


def test_package_is_valid_against_schema_v1() -> None:
    assert package_errors(package()) == []


def test_package_carries_the_customer_and_channel() -> None:
    built = package()
    assert built["schema_version"] == "1.0"
    assert built["channel"] == "web"
    assert built["customer"]["id"] == "web:abc"
    assert built["customer"]["contact_hint"] == "j***@example.com"


def test_transcript_is_complete_in_order_and_redacted() -> None:
    transcript = package()["transcript"]
    assert [line["role"] for line in transcript] == [
        "customer", "bot", "customer", "bot", "customer", "customer", "customer"]
    text = " ".join(line["text"] for line in transcript)
    assert "4111 1111 1111 1111" not in text and "[card ****1111]" in text
    assert "jane.doe@example.com" not in text


def test_intent_tags_keep_faq_topics_and_best_confidence() -> None:
    tags = {t["name"]: t for t in package()["intents"]}
    assert tags["order_status"]["confidence"] == 0.97
    assert "faq/shipping_time" in tags
    assert tags["human_handoff"]["count"] == 1


def test_summary_says_what_they_want_what_was_done_and_where_it_stopped() -> None:
    summary = package()["summary"]
    assert "status of an order" in summary["wants"]
    assert "shipping time" in summary["wants"]
    assert "verification failed" in summary["bot_did"]
    assert '"agent"' in summary["stopped_at"]


def test_only_customer_facing_slots_are_shared_and_redacted() -> None:
    slots = package()["slots"]
    assert slots == {"order_id": "482913", "order_contact": "j***@example.com"}


def test_sentiment_reflects_a_conversation_turning_sour() -> None:
    sentiment = package()["sentiment"]
    assert sentiment["latest"] <= 0.0
    assert sentiment["trend"] == "worsening"
    assert len(sentiment["scores"]) == 5


def test_only_the_current_session_is_packaged() -> None:
    older = [user("old session message", "greet", ts=0.1), *EVENTS]
    texts = [line["text"] for line in package(events=older)["transcript"]]
    assert "old session message" not in texts


@pytest.mark.parametrize("channel, expected", [("telegram", "telegram"),
                                               ("whatsapp", "whatsapp"),
                                               ("<script>", "unknown"), ("", "unknown")])
def test_what_is_not_a_channel_name_is_labelled_unknown(channel: str, expected: str) -> None:
    assert package(channel=channel)["channel"] == expected


def test_a_payload_is_shown_as_the_words_the_customer_typed_or_tapped() -> None:
    tapped = {**user("/order_status", "order_status", 1.0, ts=6),
              "metadata": {"customer_text": "Track my order"}}
    asked = {**user("/human_handoff", "human_handoff", 1.0, ts=7),
             "metadata": {"customer_text": "talk to a person"}}
    built = package(events=[*EVENTS, tapped, asked])
    said = [line["text"] for line in built["transcript"] if line["role"] == "customer"]
    assert said[-2:] == ["Track my order", "talk to a person"]
    assert built["summary"]["stopped_at"].endswith('last customer message: "talk to a person"')


def test_a_payload_without_the_customers_words_is_shown_by_what_it_meant() -> None:
    built = package(events=[*EVENTS, user("/human_handoff", "human_handoff", 1.0, ts=7)])
    assert built["transcript"][-1]["text"] == "[human handoff]"
    assert "/human_handoff" not in str(built)


def test_the_package_the_gateway_builds_without_the_bot_is_valid_and_honest() -> None:
    built = package_from_transcript(
        conversation_id="sms:+15550100001", channel="sms", customer_id="+15550100001",
        transcript=[{"role": "customer", "text": "my card 4111 1111 1111 1111 was charged", "ts": 1},
                    {"role": "bot", "text": "Sorry, I'm having trouble", "ts": 2},
                    {"role": "customer", "text": "agent", "ts": 3}],
        trigger_kind="customer_request", trigger_detail="customer asked for a person")
    assert package_errors(built) == []
    assert built["summary"]["wants"] == UNAVAILABLE_WANTS
    assert built["summary"]["stopped_at"].endswith('last customer message: "agent"')
    assert "4111 1111 1111 1111" not in str(built)
