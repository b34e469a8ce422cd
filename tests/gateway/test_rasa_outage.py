"""When Rasa is down the customer is told honestly and nothing they said is lost."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.engine import OUTAGE_REPLY
from tests.gateway.conftest import Gateway


async def test_outage_is_told_once_and_messages_are_answered_in_order_when_back(
        open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.down = True
    chat = await open_chat()
    await chat.hello()
    await chat.say("first")
    assert (await chat.reply())["text"] == OUTAGE_REPLY
    await chat.say("second")
    assert await chat.silence(0.3) == []  # no second outage notice
    gateway.rasa.down = False
    texts = [(await chat.reply())["text"] for _ in range(2)]
    assert texts == ["You said: first", "You said: second"]
    assert await gateway.stores.pending.conversations() == []


async def test_message_sent_just_after_recovery_waits_behind_the_kept_ones(
        open_chat: Any, gateway: Gateway) -> None:
    gateway.engine.settings  # the retry loop runs every 0.2 s; we beat it by sending at once
    gateway.rasa.down = True
    chat = await open_chat()
    await chat.hello()
    await chat.say("kept")
    await chat.reply()
    gateway.rasa.down = False
    await chat.say("new")
    texts = [(await chat.reply())["text"] for _ in range(2)]
    assert texts == ["You said: kept", "You said: new"]


async def test_agent_keyword_opens_a_case_even_when_rasa_is_down(
        open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.down = True
    chat = await open_chat()
    await chat.hello()
    await chat.say("my parcel is lost")
    await chat.reply()
    await chat.say("agent")
    reply = await chat.reply()
    assert "support team" in reply["text"]
    case_ids = await gateway.stores.cases.queued()
    assert len(case_ids) == 1
    case = await gateway.stores.cases.get(case_ids[0])
    assert case["trigger"]["kind"] == "backend_unavailable"
    assert [line["text"] for line in case["package"]["transcript"] if line["role"] == "customer"][:2] == [
        "my parcel is lost", "agent"]
    await asyncio.sleep(0)
