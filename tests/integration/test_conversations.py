"""Real conversations over the web chat websocket with the trained model behind the gateway."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from actions import replies
from bot.stack import Stack
from tests.integration.conftest import OpenChat, read_case

pytestmark = pytest.mark.integration

FAQ_ANSWERS = {
    name.split("/", 1)[1]: variants[0]["text"]
    for name, variants in yaml.safe_load(
        (Path(__file__).parents[2] / "data" / "faq.yml").read_text())["responses"].items()
}

FAQ_QUESTIONS = {
    "shipping_time": "how long does delivery usually take?",
    "shipping_cost": "how much is shipping",
    "international_shipping": "do u ship to canada",
    "return_policy": "how do i return something i bought",
    "refund_time": "when will i get my refund",
    "payment_methods": "can i pay with paypal",
    "cancel_order": "how can i cancel an order",
    "change_address": "can i change the delivery address on my order",
    "support_hours": "what are your support hours",
    "warranty": "is there a warranty on your products",
    "gift_cards": "do gift cards expire",
}


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


async def test_greeting_says_it_is_a_bot_and_how_to_reach_a_person(open_chat: OpenChat) -> None:
    chat = await open_chat()
    answer = await chat.turn("hi there")
    assert "automated assistant" in texts(answer)
    assert '"agent"' in texts(answer)
    assert {b["payload"] for b in answer[0]["buttons"]} >= {"/order_status", "/human_handoff"}


@pytest.mark.parametrize("topic", sorted(FAQ_QUESTIONS))
async def test_each_faq_family_is_answered(open_chat: OpenChat, topic: str) -> None:
    chat = await open_chat()
    answer = await chat.turn(FAQ_QUESTIONS[topic])
    assert texts(answer) == FAQ_ANSWERS[topic]


async def test_order_status_happy_path(open_chat: OpenChat) -> None:
    chat = await open_chat()
    assert "order number" in texts(await chat.turn("where is my order??"))
    assert "email address or phone number" in texts(await chat.turn("482913"))
    answer = texts(await chat.turn("jane.doe@example.com"))
    assert "#482913" in answer and "has shipped" in answer and "UPS" in answer
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in answer
    assert "Expected delivery" in answer


async def test_order_number_given_up_front_and_phone_verification(open_chat: OpenChat) -> None:
    chat = await open_chat()
    assert "email address or phone number" in texts(await chat.turn("where is my order #482918?"))
    answer = texts(await chat.turn("+1 (555) 010-0003"))
    assert "#482918" in answer and "has shipped" in answer and "FedEx" in answer


async def test_malformed_order_number_is_asked_again(open_chat: OpenChat) -> None:
    chat = await open_chat()
    await chat.turn("track my order")
    answer = texts(await chat.turn("12345"))
    assert "6 digits" in answer and "order number" in answer
    assert "email address or phone number" in texts(await chat.turn("482915"))


async def test_unknown_order_is_said_plainly_with_a_person_offered(open_chat: OpenChat) -> None:
    chat = await open_chat()
    await chat.turn("where's my package")
    await chat.turn("100000")
    answer = await chat.turn("jane.doe@example.com")
    assert texts(answer) == replies.ORDER_NOT_FOUND.format(order_id="100000")
    assert answer[0]["buttons"][0]["payload"] == "/human_handoff"


async def test_failed_verification_reveals_nothing(open_chat: OpenChat) -> None:
    chat = await open_chat()
    await chat.turn("order status please")
    await chat.turn("482913")
    answer = texts(await chat.turn("someone.else@example.com"))
    assert answer == replies.VERIFICATION_FAILED
    assert not re.search(r"UPS|shipped|jacket|1Z999", answer)


async def test_offer_after_a_failure_can_be_accepted_with_yes(open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    await chat.turn("where is my order")
    await chat.turn("482913")
    await chat.turn("wrong@example.com")
    answer = texts(await chat.turn("yes please"))
    case_id = re.search(r"case (C-[0-9A-F]+)", answer).group(1)
    case = await read_case(stack, case_id)
    assert case["package"]["trigger"]["kind"] == "offer_accepted"
    assert "verification failed" in case["package"]["trigger"]["detail"]


@pytest.mark.parametrize("login", ["jane.doe@example.com", "nobody.here@example.com"])
async def test_password_reset_reply_is_the_same_for_known_and_unknown(open_chat: OpenChat,
                                                                      login: str) -> None:
    chat = await open_chat()
    assert "email address or username" in texts(await chat.turn("i forgot my password"))
    assert texts(await chat.turn(login)) == replies.RESET_SENT


async def test_two_fallbacks_in_a_row_offer_a_person(open_chat: OpenChat) -> None:
    chat = await open_chat()
    first = await chat.turn("what is the capital of mongolia")
    assert texts(first) == replies.FALLBACK_FIRST
    second = await chat.turn("write me a poem about the sea")
    assert texts(second) == replies.FALLBACK_OFFER
    assert second[0]["buttons"][0]["payload"] == "/human_handoff"


async def test_asking_for_a_person_opens_a_case_with_context(open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    await chat.turn("how long does shipping take")
    answer = texts(await chat.turn("i want to talk to a real person"))
    match = re.search(r"case (C-[0-9A-F]+)", answer)
    assert match and "queue" in answer
    case = await read_case(stack, match.group(1))
    package = case["package"]
    assert package["channel"] == "web" and package["trigger"]["kind"] == "customer_request"
    assert [line["role"] for line in package["transcript"]][:2] == ["customer", "bot"]
    assert any(tag["name"] == "faq/shipping_time" for tag in package["intents"])


async def test_agent_keyword_inside_the_order_form_hands_off(open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    await chat.turn("where is my order")
    answer = texts(await chat.turn("agent"))
    case_id = re.search(r"case (C-[0-9A-F]+)", answer).group(1)
    case = await read_case(stack, case_id)
    assert case["package"]["trigger"]["detail"] == "customer asked for a person during order_status_form"
    # The form was left: the bot does not keep asking for an order number.
    assert "order number" not in texts(await chat.turn("thanks"))


async def test_handoff_inside_the_password_form(open_chat: OpenChat) -> None:
    chat = await open_chat()
    await chat.turn("cant log in, need a password reset")
    answer = texts(await chat.turn("can i speak to a human please"))
    assert re.search(r"case C-[0-9A-F]+", answer)


async def test_order_backend_down_is_told_honestly(open_chat: OpenChat, stack: Stack) -> None:
    backend = stack.process("demo backend")
    stack.stop_process(backend)
    try:
        chat = await open_chat()
        await chat.turn("where is my order")
        await chat.turn("482913")
        answer = await chat.turn("jane.doe@example.com")
        assert texts(answer) == replies.ORDERS_UNAVAILABLE
        assert answer[0]["buttons"][0]["payload"] == "/human_handoff"
    finally:
        stack.spawn(backend)
        await stack.wait_healthy(backend)
