"""STOP, START and HELP (Twilio's keywords and synonyms, any case) are handled by the channel and
never reach Rasa. After STOP nothing at all is sent to the number until START: not replies to new
messages, not replies to messages that were already being processed, and not after a restart or
on another gateway instance. STOP is not confirmed by us (Twilio confirms it on real numbers)."""

from __future__ import annotations

from channels.twilio_messaging import OPTED_OUT

import logging

import pytest

from channels.sms import HELP_REPLY, START_REPLY
from tests.sms.conftest import CUSTOMER, MakeGateway, SmsGateway, new_sid, twiml_messages

CONVERSATION = f"sms:{CUSTOMER}"


async def opt_out(sms: SmsGateway) -> None:
    status, _, body = await sms.text("STOP")
    assert status == 200 and twiml_messages(body) == []


@pytest.mark.parametrize("word", ["STOP", "stop", "Stop.", " STOPALL ", "unsubscribe", "Cancel",
                                  "END", "quit!"])
async def test_stop_and_its_synonyms_opt_the_number_out_silently(sms: SmsGateway,
                                                                 word: str) -> None:
    status, content_type, body = await sms.text(word)
    assert (status, content_type) == (200, "text/xml")
    assert twiml_messages(body) == []
    await sms.settle()
    assert sms.rasa.received == [] and sms.twilio.attempts == []
    assert (await sms.stores.conversations.get(CONVERSATION)).channel_data[OPTED_OUT] is True


async def test_an_opted_out_number_gets_no_answer(sms: SmsGateway) -> None:
    await opt_out(sms)
    status, _, body = await sms.text("where is my order")
    assert status == 200 and twiml_messages(body) == []
    await sms.settle()
    assert sms.rasa.received == [] and sms.twilio.attempts == []


async def test_replies_already_in_progress_are_dropped_after_stop(
        sms: SmsGateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="channels.sms")
    sms.rasa.gate.clear()  # the bot is still working on "hello" ...
    await sms.text("hello")
    await opt_out(sms)      # ... when the customer texts STOP
    sms.rasa.gate.set()
    await sms.settle()
    assert sms.rasa.texts() == ["hello"]
    assert sms.twilio.attempts == []
    assert "dropped: the number opted out" in caplog.text


@pytest.mark.parametrize("word", ["START", "start", "Yes", "UNSTOP"])
async def test_start_opts_back_in_with_a_confirmation(sms: SmsGateway, word: str) -> None:
    await opt_out(sms)
    status, _, body = await sms.text(word)
    assert status == 200 and twiml_messages(body) == [START_REPLY]
    await sms.text("where is my order")
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["Body"] == "You said: where is my order"
    assert sms.rasa.texts() == ["where is my order"]


async def test_yes_from_a_subscribed_customer_is_an_answer_for_the_bot(sms: SmsGateway) -> None:
    status, _, body = await sms.text("yes")
    assert status == 200 and twiml_messages(body) == []
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sms.rasa.texts() == ["yes"] and sent["Body"] == "You said: yes"


@pytest.mark.parametrize("word", ["HELP", "help", "Info"])
async def test_help_is_answered_by_the_channel(sms: SmsGateway, word: str) -> None:
    status, _, body = await sms.text(word)
    assert status == 200 and twiml_messages(body) == [HELP_REPLY]
    await sms.settle()
    assert sms.rasa.received == [] and sms.twilio.attempts == []


async def test_help_from_an_opted_out_number_gets_nothing(sms: SmsGateway) -> None:
    await opt_out(sms)
    status, _, body = await sms.text("HELP")
    assert status == 200 and twiml_messages(body) == []


async def test_a_retried_help_is_answered_once(sms: SmsGateway) -> None:
    sid = new_sid()
    first = await sms.text("HELP", sid=sid)
    again = await sms.text("HELP", sid=sid)
    assert twiml_messages(first[2]) == [HELP_REPLY]
    assert twiml_messages(again[2]) == []


async def test_twilio_advanced_opt_out_keywords_are_honoured(sms: SmsGateway) -> None:
    # A custom or translated keyword: Twilio tells us its kind in OptOutType.
    await sms.text("ARRET", extra={"OptOutType": "STOP"})
    assert (await sms.stores.conversations.get(CONVERSATION)).channel_data[OPTED_OUT] is True
    await sms.settle()
    assert sms.rasa.received == []


async def test_the_opt_out_survives_a_restart(sms: SmsGateway,
                                              make_gateway: MakeGateway) -> None:
    await opt_out(sms)
    restarted = await make_gateway(stores=sms.stores)
    await restarted.text("hello")
    await restarted.settle()
    assert sms.rasa.received == [] and sms.twilio.attempts == []


async def test_twilio_refusing_an_unsubscribed_number_opts_it_out(
        sms: SmsGateway, caplog: pytest.LogCaptureFixture) -> None:
    # The customer opted out on Twilio's side (e.g. before this gateway existed): error 21610.
    sms.twilio.unsubscribed.add(CUSTOMER)
    await sms.text("hello")
    await sms.twilio.wait_for_attempts(1)
    await sms.settle()
    assert len(sms.twilio.attempts) == 1  # permanent: not retried
    assert (await sms.stores.conversations.get(CONVERSATION)).channel_data[OPTED_OUT] is True
    assert "21610" in caplog.text
    await sms.text("still there?")
    await sms.settle()
    assert len(sms.twilio.attempts) == 1 and sms.rasa.texts() == ["hello"]
