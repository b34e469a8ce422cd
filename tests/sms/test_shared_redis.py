"""Two gateway instances behind a load balancer share Redis: a delivery that reaches both is
answered once, and an opt-out taken by one instance is honoured by the other."""

from __future__ import annotations

import asyncio

from bot.stores import redis_stores
from tests.conftest import REDIS_URL
from tests.sms.conftest import CUSTOMER, MakeGateway, new_sid


async def test_the_same_delivery_to_two_instances_is_answered_once(
        make_gateway: MakeGateway, redis_prefix: str) -> None:
    first = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix))
    second = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix))
    sid = new_sid()
    params = first.twilio.inbound_params(sender=CUSTOMER, body="where is my order", sid=sid)
    results = await asyncio.gather(first.twilio.post_webhook(first.url, params),
                                   second.twilio.post_webhook(second.url, params))
    assert [status for status, _, _ in results] == [200, 200]
    await first.twilio.wait_for_sent(1)
    await asyncio.gather(first.settle(), second.settle())
    assert first.rasa.texts() == ["where is my order"]
    assert first.twilio.bodies() == ["You said: where is my order"]


async def test_an_opt_out_on_one_instance_holds_on_the_other(
        make_gateway: MakeGateway, redis_prefix: str) -> None:
    first = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix))
    second = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix))
    second.rasa.gate.clear()
    await second.text("hello")       # the second instance is working on a reply ...
    await first.text("STOP")         # ... when the opt-out reaches the first one
    second.rasa.gate.set()
    await second.settle()
    await second.text("are you there?")
    await second.settle()
    assert second.rasa.texts() == ["hello"]
    assert second.twilio.attempts == []
    await first.text("START")
    await second.text("back again")
    [sent] = await second.twilio.wait_for_sent(1)
    assert sent["Body"] == "You said: back again"
