"""Escalation triggers through the real stack: the trigger is recorded on the case."""

from __future__ import annotations

import re

import pytest

from bot.stack import Stack
from tests.integration.conftest import OpenChat, read_case

pytestmark = pytest.mark.integration


async def case_of(answer: list[dict], stack: Stack) -> dict:
    text = "\n".join(m["text"] for m in answer)
    match = re.search(r"case (C-[0-9A-F]+)", text)
    assert match, text
    return await read_case(stack, match.group(1))


async def test_billing_dispute_rule(open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    case = await case_of(await chat.turn("you double charged me and i want a chargeback"), stack)
    assert case["trigger"]["kind"] == "rule"
    assert "billing dispute" in case["trigger"]["detail"]
    customer_lines = [line["text"] for line in case["package"]["transcript"]
                      if line["role"] == "customer"]
    assert customer_lines == ["you double charged me and i want a chargeback"]


async def test_strong_negative_sentiment(open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    case = await case_of(await chat.turn("this is the worst, most useless and disgusting shop ever"),
                         stack)
    assert case["trigger"]["kind"] == "negative_sentiment"


async def test_vip_customer_from_the_backend_profile(open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    case = await case_of(await chat.turn("hi, my email is omar@example.org"), stack)
    assert case["trigger"] == {"kind": "rule", "detail": "VIP customer (flag from the customer profile)"}


async def test_open_case_keeps_the_bot_silent_and_never_mind_returns(open_chat: OpenChat,
                                                                     stack: Stack) -> None:
    chat = await open_chat()
    await case_of(await chat.turn("agent"), stack)
    queued = "\n".join(m["text"] for m in await chat.turn("how much is shipping"))
    assert "added that to your case" in queued and "$4.99" not in queued
    back = "\n".join(m["text"] for m in await chat.turn("never mind"))
    assert "back with the automated assistant" in back
    assert "$4.99" in "\n".join(m["text"] for m in await chat.turn("how much is shipping"))


async def test_two_failed_verifications_in_a_row_hand_over(open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    await chat.turn("where is my order")
    await chat.turn("482913")
    await chat.turn("wrong.person@example.com")
    await chat.turn("no thanks")
    await chat.turn("check order 482913 again please")
    answer = await chat.turn("another.wrong@example.com")
    case = await case_of(answer, stack)
    assert case["trigger"]["kind"] == "repeated_failure"
