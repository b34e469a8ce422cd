"""WhatsApp delivers free-form replies only within 24 hours of the customer's last message.
Outside it the gateway sends nothing free-form: the configured approved template (by content
SID) instead, or nothing; either way the reply is recorded undelivered. A failure Twilio reports
later on its signed status callback (63016, or any other) is recorded once."""

from __future__ import annotations

import time

import pytest

from bot.messages import OutboundMessage
from tests.fakes.twilio_api import WHATSAPP_WINDOW_S
from tests.whatsapp.conftest import (CONVERSATION, CUSTOMER, TEMPLATE_SID, MakeGateway,
                                     WhatsAppGateway)

DAY_AND_AN_HOUR = WHATSAPP_WINDOW_S + 3600


async def _customer_wrote_long_ago(gateway: WhatsAppGateway) -> None:
    await gateway.say("hi")
    await gateway.settle()
    await gateway.stores.conversations.update(CONVERSATION,
                                              last_seen=time.time() - DAY_AND_AN_HOUR)
    gateway.twilio.customer_wrote[CUSTOMER] = time.time() - DAY_AND_AN_HOUR
    gateway.twilio.sent.clear()


def undelivered(transcript: list[dict[str, object]]) -> list[str]:
    return [str(e["text"]) for e in transcript
            if e["role"] == "system" and str(e["text"]).startswith("undelivered:")]


async def test_outside_the_window_nothing_free_form_is_sent(whatsapp: WhatsAppGateway) -> None:
    await _customer_wrote_long_ago(whatsapp)
    await whatsapp.engine.reply(CONVERSATION, [OutboundMessage(text="your refund is through",
                                                               role="agent")])
    assert whatsapp.twilio.sent == []
    [line] = undelivered(await whatsapp.transcript())
    assert "only within 24 hours of the customer's last message" in line
    assert "no template configured" in line


async def test_outside_the_window_the_approved_template_goes_instead(
        make_gateway: MakeGateway) -> None:
    whatsapp = await make_gateway(TWILIO_WHATSAPP_TEMPLATE_SID=TEMPLATE_SID)
    await _customer_wrote_long_ago(whatsapp)
    await whatsapp.engine.reply(CONVERSATION, [OutboundMessage(text="your refund is through")])
    [sent] = whatsapp.twilio.sent
    assert sent["ContentSid"] == TEMPLATE_SID and "Body" not in sent
    [line] = undelivered(await whatsapp.transcript())
    assert "template inviting them to write sent instead" in line


async def test_the_template_goes_out_once_per_closed_window(make_gateway: MakeGateway) -> None:
    whatsapp = await make_gateway(TWILIO_WHATSAPP_TEMPLATE_SID=TEMPLATE_SID)
    await _customer_wrote_long_ago(whatsapp)
    for text in ("Ana from our support team has joined the chat.", "your refund is through"):
        await whatsapp.engine.reply(CONVERSATION, [OutboundMessage(text=text)])
    assert [m["ContentSid"] for m in whatsapp.twilio.sent] == [TEMPLATE_SID]
    lines = undelivered(await whatsapp.transcript())
    assert len(lines) == 2 and "sent already" in lines[1]


async def test_the_customer_writing_again_opens_the_window(whatsapp: WhatsAppGateway) -> None:
    await _customer_wrote_long_ago(whatsapp)
    await whatsapp.say("are you there?")
    await whatsapp.twilio.wait_for_sent(1)
    assert whatsapp.bodies() == ["You said: are you there?"]


async def test_a_failure_twilio_reports_later_is_recorded_in_the_transcript(
        whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("hi")
    await whatsapp.settle()
    # Twilio's clock says the window closed (the gateway's does not know yet): it accepts the
    # message and reports it undelivered on the status callback.
    whatsapp.twilio.customer_wrote[CUSTOMER] = time.time() - DAY_AND_AN_HOUR
    await whatsapp.engine.reply(CONVERSATION, [OutboundMessage(text="one more thing")])
    [(status, form)] = [c for c in await whatsapp.twilio.wait_for_callbacks(3)
                        if c[1]["MessageStatus"] == "undelivered"]
    assert (status, form["ErrorCode"]) == (204, "63016")
    [line] = undelivered(await whatsapp.transcript())
    assert "only within 24 hours" in line


async def test_a_status_callback_twilio_sends_again_is_recorded_once(
        whatsapp: WhatsAppGateway) -> None:
    await whatsapp.say("hi")
    await whatsapp.settle()
    params = {"MessageSid": "MM" + "7" * 32, "MessageStatus": "failed", "ErrorCode": "63003",
              "To": CONVERSATION, "From": "whatsapp:+14155238886",
              "AccountSid": whatsapp.twilio.account_sid}
    for _ in range(2):
        status, _, _ = await whatsapp.twilio.post_webhook(whatsapp.url, params,
                                                          path="/whatsapp/twilio/status")
        assert status == 204
    [line] = undelivered(await whatsapp.transcript())
    assert "WhatsApp reported it failed (Twilio error 63003)" in line


async def test_a_late_report_for_an_erased_conversation_brings_nothing_back(
        whatsapp: WhatsAppGateway) -> None:
    params = {"MessageSid": "MM" + "9" * 32, "MessageStatus": "undelivered",
              "ErrorCode": "63016", "To": CONVERSATION, "AccountSid": whatsapp.twilio.account_sid}
    assert (await whatsapp.twilio.post_webhook(whatsapp.url, params,
                                               path="/whatsapp/twilio/status"))[0] == 204
    assert await whatsapp.transcript() == []
    assert not await whatsapp.stores.conversations.exists(CONVERSATION)


@pytest.mark.parametrize("status", ["queued", "sent", "delivered", "read"])
async def test_a_good_status_records_nothing(whatsapp: WhatsAppGateway, status: str) -> None:
    params = {"MessageSid": "MM" + "8" * 32, "MessageStatus": status, "To": CONVERSATION,
              "AccountSid": whatsapp.twilio.account_sid}
    assert (await whatsapp.twilio.post_webhook(whatsapp.url, params,
                                               path="/whatsapp/twilio/status"))[0] == 204
    assert await whatsapp.transcript() == []
