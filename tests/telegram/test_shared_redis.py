"""Two gateway instances behind one public URL share Redis: whichever instance receives a
delivery, and however often, the customer is answered once."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

from bot.stores import redis_stores
from tests.conftest import REDIS_URL
from tests.fakes.telegram_api import Updates
from tests.telegram.conftest import CHAT, Gateway, MakeGateway

OLD_GREETING = {"chat_id": CHAT, "text": "Hi!", "reply_markup": {"inline_keyboard": [
    [{"text": "Track my order", "callback_data": "/order_status"}]]}}

DELIVERIES: dict[str, Callable[[Updates], dict[str, Any]]] = {
    "text": lambda updates: updates.message("where is my parcel"),
    "start": lambda updates: updates.message("/start"),
    "button": lambda updates: updates.press(OLD_GREETING, "/order_status"),
}


@pytest.fixture
async def pair(make_gateway: MakeGateway, redis_prefix: str) -> tuple[Gateway, Gateway]:
    first = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix))
    second = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix))
    second.updates = first.updates  # one Telegram: update ids never repeat across instances
    return first, second


@pytest.mark.parametrize("kind", sorted(DELIVERIES))
async def test_one_delivery_to_both_instances_is_answered_once(pair: tuple[Gateway, Gateway],
                                                               kind: str) -> None:
    first, second = pair
    update = DELIVERIES[kind](first.updates)
    statuses = await asyncio.gather(first.post(update), second.post(update),
                                    first.post(update), second.post(update))
    assert set(statuses) == {200}
    await first.replies(1)
    await asyncio.gather(first.settle(), second.settle())
    assert len(first.api.sent()) == 1
    assert len(first.rasa.received) == (0 if kind == "start" else 1)
    assert len(first.api.calls_to("answerCallbackQuery")) == (1 if kind == "button" else 0)


async def test_a_conversation_continues_on_the_other_instance(pair: tuple[Gateway, Gateway]) -> None:
    first, second = pair
    await first.say("hello")
    [greeting] = await first.replies(1)
    assert await second.post(second.updates.press(greeting, "/order_status")) == 200
    await second.replies(2)
    assert first.rasa.texts() == ["hello", "/order_status"]


async def test_one_conversation_is_never_handled_by_both_instances_at_once(
        pair: tuple[Gateway, Gateway]) -> None:
    first, second = pair
    first.rasa.delay_s = 0.05  # turns long enough to overlap if both instances took one
    texts = [f"message {i}" for i in range(8)]
    for i, text in enumerate(texts):  # the platform alternates instances; each one acks
        gateway = (first, second)[i % 2]
        assert await gateway.post(gateway.updates.message(text)) == 200
    await first.replies(len(texts))
    await asyncio.gather(first.settle(), second.settle())
    assert first.rasa.texts() == texts  # in the order the customer wrote them
    assert first.rasa.overlaps == 0  # and never two turns of the conversation at once
