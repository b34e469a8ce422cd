"""When Rasa is down the customer is told honestly and nothing they said is lost."""

from __future__ import annotations

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
    await chat.next("typing")  # the second turn ends without a second notice
    gateway.rasa.down = False
    texts = [(await chat.reply())["text"] for _ in range(2)]
    assert texts == ["You said: first", "You said: second"]
    await gateway.engine.idle()
    assert await gateway.stores.journal.conversations() == []


async def test_message_sent_just_after_recovery_waits_behind_the_kept_ones(
        open_chat: Any, gateway: Gateway) -> None:
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
    [case] = await gateway.stores.cases.waiting()
    assert case.trigger["kind"] == "backend_unavailable"
    assert [line["text"] for line in case.package["transcript"]
            if line["role"] == "customer"][:2] == ["my parcel is lost", "agent"]


async def test_the_kept_message_goes_to_the_person_once_a_case_is_open(
        open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.down = True
    chat = await open_chat()
    await chat.hello()
    await chat.say("my parcel is lost")
    await chat.reply()
    await chat.say("agent")
    await chat.reply()
    gateway.rasa.down = False
    await gateway.engine.drainer.sweep_once()
    await gateway.engine.idle()
    assert gateway.rasa.received == []  # never answered by the bot: a person has it
    assert await gateway.stores.journal.conversations() == []


async def test_the_pause_reaches_rasa_once_it_is_back(open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.down = True
    chat = await open_chat()
    await chat.hello()
    await chat.say("agent")
    await chat.reply()
    cid = next(iter(gateway.rasa.trackers), None) or (await gateway.stores.cases.waiting())[
        0].conversation_id
    assert gateway.rasa.tracker_events_of(cid) == []
    gateway.rasa.down = False
    await gateway.engine.drainer.sweep_once()
    await gateway.engine.idle()
    assert gateway.rasa.tracker_events_of(cid) == ["pause"]
