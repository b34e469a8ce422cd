"""STOP is honoured on WhatsApp as on SMS, and confirmed by us (Twilio does not do it for
WhatsApp): nothing more is sent until START; keywords never reach Rasa."""

from __future__ import annotations

import pytest

from bot.messages import OutboundMessage
from channels.whatsapp import HELP_REPLY, START_REPLY, STOP_REPLY
from tests.sms.conftest import twiml_messages
from tests.whatsapp.conftest import CONVERSATION, WhatsAppGateway


@pytest.mark.parametrize("word", ["STOP", "stop", "Unsubscribe."])
async def test_stop_is_confirmed_and_nothing_more_is_sent(whatsapp: WhatsAppGateway,
                                                          word: str) -> None:
    _, _, body = await whatsapp.say(word)
    assert twiml_messages(body) == [STOP_REPLY]
    await whatsapp.engine.reply(CONVERSATION, [OutboundMessage(text="a late reply")])
    await whatsapp.say("where is my order")
    await whatsapp.settle()
    assert whatsapp.bodies() == [] and whatsapp.rasa.texts() == []
    # Not sent, and not shown as sent: the transcript says why.
    transcript = await whatsapp.stores.transcripts.recent(CONVERSATION, limit=20)
    assert transcript[-1]["text"] == ("undelivered: not sent: the customer sent STOP (nothing "
                                      "goes out until START)")


@pytest.mark.parametrize("word", ["cancel", "end", "quit"])
async def test_words_that_are_opt_outs_on_sms_are_ordinary_words_on_whatsapp(
        whatsapp: WhatsAppGateway, word: str) -> None:
    # "cancel" withdraws a waiting handoff; none of these unsubscribes a WhatsApp customer.
    await whatsapp.say(word)
    await whatsapp.settle()
    assert whatsapp.rasa.texts() == [word]
    assert whatsapp.bodies() == [f"You said: {word}"]


async def test_start_subscribes_again(whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("STOP")
    _, _, body = await whatsapp.say("START")
    assert twiml_messages(body) == [START_REPLY]
    await whatsapp.say("hi")
    await whatsapp.twilio.wait_for_sent(1)
    assert whatsapp.bodies() == ["You said: hi"]


async def test_help_is_answered_without_rasa(whatsapp: WhatsAppGateway) -> None:
    _, _, body = await whatsapp.say("help")
    assert twiml_messages(body) == [HELP_REPLY]
    assert whatsapp.rasa.texts() == []


async def test_a_stop_twilio_delivers_twice_is_confirmed_once(whatsapp: WhatsAppGateway) -> None:
    first = await whatsapp.say("STOP", sid="SM" + "5" * 32)
    again = await whatsapp.say("STOP", sid="SM" + "5" * 32)
    assert (twiml_messages(first[2]), twiml_messages(again[2])) == ([STOP_REPLY], [])
