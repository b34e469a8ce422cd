"""A restart resumes every acknowledged message from the journal, from where it got to, and never
runs a second Rasa turn for one: a message that may have reached Rasa is looked up in Rasa's
tracker (by the message id the gateway put in its metadata) before it is sent again."""

from __future__ import annotations

import asyncio
from typing import Callable

import pytest

from bot.engine import dedupe_key
from bot.messages import InboundMessage, OutboundMessage
from bot.rasa_client import RasaTurn
from bot.stores import Progress, Stores
from tests.fakes.rasa import FakeRasa
from tests.gateways import start_gateway

CID = "web:returning-customer"


@pytest.fixture
def stores(file_stores: Stores) -> Stores:
    return file_stores


def message(n: int, text: str) -> InboundMessage:
    return InboundMessage(channel="web", conversation_id=CID, customer_id=CID, text=text,
                          platform_message_id=f"{CID}:m{n}", received_at=float(n))


async def journal(stores: Stores, *messages: InboundMessage) -> None:
    """What a gateway that died right after acknowledging left behind."""
    await stores.conversations.update(CID, channel="web", customer_id=CID)
    for m in messages:
        assert await stores.journal.append(m, dedupe_key=dedupe_key(m)) is not None


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.005)


async def bot_lines(stores: Stores) -> list[str]:
    return [e["text"] for e in await stores.transcripts.recent(CID, limit=50)
            if e["role"] == "bot"]


async def test_messages_acknowledged_before_a_crash_are_answered_in_order(
        fake_rasa: tuple[FakeRasa, str], stores: Stores) -> None:
    rasa, url = fake_rasa
    await journal(stores, message(1, "first"), message(2, "second"), message(3, "third"))
    gateway = await start_gateway(rasa, url, stores=stores)
    await gateway.engine.idle()
    assert rasa.texts() == ["first", "second", "third"]
    assert await bot_lines(stores) == ["You said: first", "You said: second", "You said: third"]
    assert await stores.journal.conversations() == []
    await gateway.stop()


async def test_a_turn_rasa_ran_before_the_crash_is_not_run_again(
        fake_rasa: tuple[FakeRasa, str], stores: Stores) -> None:
    rasa, url = fake_rasa
    await journal(stores, message(1, "where is my parcel"))
    [entry] = await stores.journal.entries(CID)
    await stores.journal.save(entry.advance(Progress.AT_RASA, rasa_text="where is my parcel"))
    # Rasa had answered it: its tracker holds our message id and the bot's reply.
    rasa.trackers[CID] = [
        {"event": "user", "text": "where is my parcel",
         "metadata": {"message_id": dedupe_key(entry.message)}},
        {"event": "bot", "text": "It ships tomorrow.", "data": {}}]
    gateway = await start_gateway(rasa, url, stores=stores)
    await gateway.engine.idle()
    assert rasa.received == []
    assert await bot_lines(stores) == ["It ships tomorrow."]
    await gateway.stop()


async def test_a_message_that_never_reached_rasa_is_sent_once(
        fake_rasa: tuple[FakeRasa, str], stores: Stores) -> None:
    rasa, url = fake_rasa
    await journal(stores, message(1, "hello there"))
    [entry] = await stores.journal.entries(CID)
    await stores.journal.save(entry.advance(Progress.AT_RASA, rasa_text="hello there"))
    gateway = await start_gateway(rasa, url, stores=stores)
    await gateway.engine.idle()
    assert rasa.texts() == ["hello there"]
    assert rasa.received[0]["metadata"]["message_id"] == dedupe_key(entry.message)
    await gateway.stop()


async def test_replies_known_before_the_crash_are_delivered_without_asking_rasa(
        fake_rasa: tuple[FakeRasa, str], stores: Stores) -> None:
    rasa, url = fake_rasa
    await journal(stores, message(1, "hi"))
    [entry] = await stores.journal.entries(CID)
    turn = RasaTurn((OutboundMessage(text="Hello again!"),))
    await stores.journal.save(entry.advance(Progress.ANSWERED, rasa_text="hi",
                                            replies=turn.to_dicts()))
    gateway = await start_gateway(rasa, url, stores=stores)
    await gateway.engine.idle()
    assert rasa.received == [] and rasa.api_events == []
    assert await bot_lines(stores) == ["Hello again!"]
    await gateway.stop()


async def test_stopping_mid_turn_keeps_the_message_and_the_next_start_answers_it_once(
        fake_rasa: tuple[FakeRasa, str], stores: Stores) -> None:
    rasa, url = fake_rasa
    rasa.delay_s = 1.0
    first = await start_gateway(rasa, url, stores=stores, shutdown_grace_s=0.05)
    await journal(stores, message(1, "slow one"))
    first.engine.drainer.schedule(CID)
    await until(lambda: rasa.turns_running.get(CID) == 1)  # Rasa is on it
    await first.stop()  # cancels the gateway's side of the turn that is waiting for Rasa
    [kept] = await stores.journal.entries(CID)
    assert kept.progress is Progress.AT_RASA
    rasa.delay_s = 0.0
    second = await start_gateway(rasa, url, stores=stores)
    await second.engine.idle()
    # Rasa's turn was cut short with the request (nothing saved), so it ran once, afterwards.
    assert [t["message"] for t in rasa.completed] == ["slow one"]
    assert await bot_lines(stores) == ["You said: slow one"]
    await second.stop()
