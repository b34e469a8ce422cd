"""The webhook is answered at once with an empty TwiML <Response/>; the bot's replies go out later
through the REST API, so a slow Rasa turn never runs into Twilio's 15-second webhook timeout."""

from __future__ import annotations

from tests.sms.conftest import CUSTOMER, SmsGateway, twiml_messages


async def test_the_webhook_is_acknowledged_with_empty_twiml_before_rasa_answers(
        sms: SmsGateway) -> None:
    sms.rasa.gate.clear()  # Rasa is still thinking
    status, content_type, body = await sms.text("where is my order")
    assert (status, content_type) == (200, "text/xml")
    assert twiml_messages(body) == []
    assert sms.twilio.sent == []
    sms.rasa.gate.set()
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["Body"] == "You said: where is my order"


async def test_the_conversation_is_keyed_by_the_senders_number(sms: SmsGateway) -> None:
    await sms.text("hi")
    await sms.twilio.wait_for_sent(1)
    await sms.settle()
    state = await sms.stores.conversations.get(f"sms:{CUSTOMER}")
    assert (state.channel, state.customer_id) == ("sms", CUSTOMER)
    assert sms.rasa.received[0]["sender"] == f"sms:{CUSTOMER}"
    assert sms.rasa.received[0]["metadata"]["customer_id"] == CUSTOMER


async def test_two_customers_get_their_own_conversations(sms: SmsGateway) -> None:
    other = "+14155550100"
    await sms.text("first", sender=CUSTOMER)
    await sms.text("second", sender=other)
    sent = await sms.twilio.wait_for_sent(2)
    assert {(m["To"], m["Body"]) for m in sent} == {
        (CUSTOMER, "You said: first"), (other, "You said: second")}


async def test_a_sender_that_is_not_a_phone_number_is_acknowledged_but_ignored(
        sms: SmsGateway) -> None:
    status, _, body = await sms.text("hi", sender="whatsapp:+447700900123")
    assert status == 200 and twiml_messages(body) == []
    await sms.settle()
    assert sms.rasa.received == [] and sms.twilio.attempts == []


async def test_the_transcript_keeps_the_sms_exchange(sms: SmsGateway) -> None:
    await sms.text("hello there")
    await sms.twilio.wait_for_sent(1)
    await sms.settle()
    entries = await sms.stores.transcripts.recent(f"sms:{CUSTOMER}", limit=10)
    assert [(e["role"], e["text"]) for e in entries] == [
        ("customer", "hello there"), ("bot", "You said: hello there")]
