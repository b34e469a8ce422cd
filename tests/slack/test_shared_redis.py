"""Several gateway instances behind one Slack app share Redis: a delivery that reaches two of them
is answered once, and any instance can continue a conversation another one started."""

from __future__ import annotations

import asyncio

from bot.stores import redis_stores
from tests.conftest import REDIS_URL
from tests.fakes.slack_api import channel_message, dm
from tests.slack.conftest import MakeGateway


async def test_the_same_delivery_to_two_instances_is_answered_once(
        make_gateway: MakeGateway, redis_prefix: str) -> None:
    first, second = [await make_gateway(redis_stores(REDIS_URL, prefix=redis_prefix))
                     for _ in range(2)]
    event = dm("where is my order")
    statuses = await asyncio.gather(first.events.send(event, event_id="Ev1"),
                                    second.events.send(event, event_id="Ev1", retry_num=1))
    assert statuses == [200, 200]
    await asyncio.gather(first.engine.idle(), second.engine.idle())
    assert len(first.slack.posts()) == 1
    assert first.rasa.texts() == ["where is my order"]


async def test_a_thread_started_on_one_instance_continues_on_another(
        make_gateway: MakeGateway, redis_prefix: str) -> None:
    first, second = [await make_gateway(redis_stores(REDIS_URL, prefix=redis_prefix))
                     for _ in range(2)]
    root = channel_message("hello")
    await first.events.send(root)
    [offer] = await first.slack.wait_for("chat.postMessage", 1)
    await second.events.press(offer, 0)  # the button press lands on the other instance
    posts = await second.slack.wait_for_posts(2)
    assert posts[1]["thread_ts"] == root["ts"]
    assert second.rasa.texts() == ["hello", "/order_status"]  # the offer was found in Redis
