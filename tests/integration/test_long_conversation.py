"""A long conversation on the real stack keeps its dialogue: after dozens of turns (Rasa is handed
only the recent events, bot/rasa_tracker_store.py) forms, slots set many turns earlier, the
"two misunderstandings offer a person" rule and the handoff with its whole transcript work as on
the first turn."""

from __future__ import annotations

import re

import aiohttp
import pytest

from actions import replies
from bot.stack import Stack
from tests.chat_client import ChatClient
from tests.integration.conftest import read_case
from tests.integration.test_conversations import FAQ_ANSWERS, FAQ_QUESTIONS, texts

pytestmark = pytest.mark.integration

TURNS = 36  # several checkpoints past: the window holds about 6 to 12 turns


class Customer:
    """One web chat conversation that reconnects to itself every 15 messages (the widget allows
    20 per 10 s on one socket), as a customer reloading the page would."""

    def __init__(self, http: aiohttp.ClientSession, stack: Stack) -> None:
        self.http, self.stack, self.chat, self.sent = http, stack, None, 0

    async def turn(self, text: str) -> str:
        if self.chat is None or self.sent % 15 == 14:
            session = self.chat.session if self.chat else None
            if self.chat:
                await self.chat.close()
            self.chat = ChatClient(await self.http.ws_connect(f"{self.stack.gateway_url}/webchat/ws"))
            await self.chat.hello(session)
        self.sent += 1
        return texts(await self.chat.turn(text))


async def chat_for_a_while(customer: Customer) -> None:
    topics = sorted(FAQ_QUESTIONS)
    for n in range(TURNS):
        topic = topics[n % len(topics)]
        assert await customer.turn(FAQ_QUESTIONS[topic]) == FAQ_ANSWERS[topic], f"turn {n}"


async def test_the_order_form_works_after_a_long_conversation(stack: Stack) -> None:
    async with aiohttp.ClientSession() as http:
        customer = Customer(http, stack)
        await chat_for_a_while(customer)
        assert "order number" in await customer.turn("where is my order??")
        assert "email address or phone number" in await customer.turn("482913")
        answer = await customer.turn("jane.doe@example.com")
        assert "#482913" in answer and "has shipped" in answer


async def test_a_failed_verification_offer_and_handoff_after_a_long_conversation(
        stack: Stack) -> None:
    async with aiohttp.ClientSession() as http:
        customer = Customer(http, stack)
        await customer.turn("where is my order")
        await customer.turn("482913")
        assert "has shipped" in await customer.turn("jane.doe@example.com")
        await chat_for_a_while(customer)  # that lookup is a step tried, kept in a slot
        await customer.turn("where is my order")
        await customer.turn("482913")
        assert await customer.turn("wrong@example.com") == replies.VERIFICATION_FAILED
        answer = await customer.turn("yes please")
        case = await read_case(stack, re.search(r"case (C-[0-9A-F]+)", answer).group(1))
        package = case["package"]
        assert package["trigger"]["kind"] == "offer_accepted"
        assert len(package["steps_tried"]) >= 2, package["steps_tried"]  # the first lookup too
        # The agent gets the whole conversation, not the bot's recent window of it.
        said = [line["text"] for line in package["transcript"] if line["role"] == "customer"]
        assert len(said) >= TURNS + 5
        assert said[:2] == ["where is my order", "482913"]


async def test_two_misunderstandings_offer_a_person_after_a_long_conversation(
        stack: Stack) -> None:
    async with aiohttp.ClientSession() as http:
        customer = Customer(http, stack)
        await chat_for_a_while(customer)
        assert await customer.turn("what is the capital of mongolia") == replies.FALLBACK_FIRST
        assert await customer.turn("write me a poem about the sea") == replies.FALLBACK_OFFER
