"""A WhatsApp customer talks to the bot through Twilio: signed webhooks acknowledged with empty
TwiML, replies through the Messages resource from the WhatsApp sender, each asking for a status
callback; retries answered once; emoji kept; numbered options and tapped quick replies map back
to what the bot offered; media gets the text-only answer."""

from __future__ import annotations

from typing import Any

import pytest

from bot.engine import MEDIA_ONLY_REPLY
from bot.messages import OutboundMessage
from tests.fakes.rasa import FakeRasa
from tests.fakes.twilio_api import PUBLIC_BASE_URL, WHATSAPP_FROM
from tests.whatsapp.conftest import CONVERSATION, CUSTOMER, WhatsAppGateway


def options(text: str) -> Any:
    if text == "hello":
        return [{"text": "Hi 👋 what can I do for you?", "buttons": [
            {"title": "Track my order", "payload": "/order_status"},
            {"title": "Talk to a person", "payload": "/human_handoff"}]}]
    return [{"text": f"You said: {text}"}]


@pytest.fixture
async def fake_rasa(serve: Any) -> tuple[FakeRasa, str]:
    fake = FakeRasa(replies=options)
    return fake, await serve(fake.app())


async def test_a_message_is_acknowledged_at_once_and_answered_from_the_whatsapp_sender(
        whatsapp: WhatsAppGateway) -> None:
    status, content_type, body = await whatsapp.say("where is my parcel")
    assert (status, content_type) == (200, "text/xml")
    assert "<Message>" not in body  # the answer goes out through the REST API
    [sent] = await whatsapp.twilio.wait_for_sent(1)
    assert (sent["To"], sent["From"], sent["Body"]) == (
        CONVERSATION, WHATSAPP_FROM, "You said: where is my parcel")
    assert sent["StatusCallback"] == PUBLIC_BASE_URL + "/whatsapp/twilio/status"


async def test_the_customer_is_a_phone_number_on_the_whatsapp_channel(
        whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("hi")
    await whatsapp.settle()
    state = await whatsapp.stores.conversations.get(CONVERSATION)
    assert (state.channel, state.customer_id) == ("whatsapp", CUSTOMER)


async def test_a_webhook_twilio_delivers_twice_is_answered_once(
        whatsapp: WhatsAppGateway) -> None:
    for _ in range(2):
        assert (await whatsapp.say("only once", sid="SM" + "1" * 32))[0] == 200
    await whatsapp.settle()
    assert whatsapp.rasa.texts() == ["only once"]
    assert whatsapp.bodies() == ["You said: only once"]


async def test_emoji_and_curly_quotes_are_sent_as_written(whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("hello")
    await whatsapp.twilio.wait_for_sent(1)
    assert whatsapp.bodies()[0].startswith("Hi 👋 what can I do for you?")


async def test_options_are_numbered_and_a_number_picks_one(whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("hello")
    await whatsapp.twilio.wait_for_sent(1)
    assert "\n\n1. Track my order\n2. Talk to a person\nReply with a number." in whatsapp.bodies()[0]
    await whatsapp.say("1")
    await whatsapp.settle()
    assert whatsapp.rasa.texts() == ["hello", "/order_status"]


async def test_a_tapped_quick_reply_is_the_option_it_names(whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("hello")
    await whatsapp.settle()
    await whatsapp.say("Track my order", button=("/order_status", "Track my order"))
    await whatsapp.settle()
    assert whatsapp.rasa.texts()[-1] == "/order_status"


async def test_a_quick_reply_the_bot_did_not_offer_is_only_its_words(
        whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("Restart", button=("/restart", "Restart"))
    await whatsapp.settle()
    assert whatsapp.rasa.texts() == ["Restart"]


async def test_media_gets_the_text_only_answer(whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("", media=[("https://api.twilio.com/media/ME1", "image/jpeg")])
    await whatsapp.twilio.wait_for_sent(1)
    assert whatsapp.bodies() == [MEDIA_ONLY_REPLY]
    assert whatsapp.rasa.texts() == []


async def test_every_part_of_an_agents_long_reply_is_labelled(whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("hi")
    await whatsapp.settle()
    await whatsapp.engine.reply(CONVERSATION, [OutboundMessage(text="word " * 500,
                                                               role="agent")])
    parts = whatsapp.bodies()[1:]
    assert len(parts) == 2 and all(p.startswith("Support agent: ") for p in parts)
    assert all(len(p) <= 1600 for p in parts)
