"""Twilio may deliver the same webhook more than once (its retries, a proxy resending): every copy
carries the same MessageSid and the customer gets exactly one answer."""

from __future__ import annotations

import asyncio

from tests.sms.conftest import SmsGateway, new_sid, twiml_messages


async def test_a_retried_delivery_is_answered_once(sms: SmsGateway) -> None:
    sid = new_sid()
    await sms.text("where is my order", sid=sid)
    await sms.twilio.wait_for_sent(1)
    status, _, body = await sms.text("where is my order", sid=sid)
    assert status == 200 and twiml_messages(body) == []
    await sms.settle()
    assert sms.rasa.texts() == ["where is my order"]
    assert len(sms.twilio.sent) == 1


async def test_simultaneous_copies_are_answered_once(sms: SmsGateway) -> None:
    sid = new_sid()
    results = await asyncio.gather(*(sms.text("hello?", sid=sid) for _ in range(5)))
    assert {status for status, _, _ in results} == {200}
    await sms.twilio.wait_for_sent(1)
    await sms.settle()
    assert sms.rasa.texts() == ["hello?"]
    assert len(sms.twilio.sent) == 1


async def test_the_same_words_in_a_new_message_are_answered_again(sms: SmsGateway) -> None:
    await sms.text("thanks")
    await sms.twilio.wait_for_sent(1)
    await sms.text("thanks")
    await sms.twilio.wait_for_sent(2)
    assert sms.rasa.texts() == ["thanks", "thanks"]
