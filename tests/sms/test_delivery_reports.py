"""Every text asks Twilio for its status callback; when the carrier reports later that one did
not arrive (30003 unreachable handset, ...), the transcript says so, once, and so do the agents'
inboxes. The callback is signed like the webhook."""

from __future__ import annotations

import aiohttp

from tests.fakes.twilio_api import PUBLIC_BASE_URL
from tests.sms.conftest import CUSTOMER, SmsGateway

CONVERSATION = f"sms:{CUSTOMER}"


def undelivered(transcript: list[dict[str, object]]) -> list[str]:
    return [str(e["text"]) for e in transcript if str(e["text"]).startswith("undelivered:")]


async def test_every_text_asks_for_its_status_callback(sms: SmsGateway) -> None:
    await sms.text("hi")
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["StatusCallback"] == PUBLIC_BASE_URL + "/sms/twilio/status"


async def test_a_text_the_carrier_could_not_deliver_is_recorded(sms: SmsGateway) -> None:
    sms.twilio.gateway_url = sms.url
    sms.twilio.unreachable.add(CUSTOMER)
    await sms.text("hi")
    callbacks = await sms.twilio.wait_for_callbacks(2)
    assert [(status, form["MessageStatus"]) for status, form in callbacks] == [
        (204, "sent"), (204, "undelivered")]
    transcript = await sms.stores.transcripts.recent(CONVERSATION, limit=20)
    assert undelivered(transcript) == [
        "undelivered: the carrier reported it undelivered (Twilio error 30003)"]


async def test_a_delivered_text_records_nothing(sms: SmsGateway) -> None:
    sms.twilio.gateway_url = sms.url
    await sms.text("hi")
    await sms.twilio.wait_for_callbacks(2)
    transcript = await sms.stores.transcripts.recent(CONVERSATION, limit=20)
    assert undelivered(transcript) == []


async def test_a_forged_status_callback_is_refused(sms: SmsGateway) -> None:
    await sms.text("hi")
    await sms.settle()
    params = {"MessageSid": "SM" + "3" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003",
              "To": CUSTOMER, "AccountSid": sms.twilio.account_sid}
    status, _, _ = await sms.twilio.post_webhook(sms.url, params, path="/sms/twilio/status",
                                                 signature="forged")
    assert status == 403
    transcript = await sms.stores.transcripts.recent(CONVERSATION, limit=20)
    assert undelivered(transcript) == []


async def test_a_status_callback_that_is_not_a_utf8_form_gets_a_4xx(sms: SmsGateway) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sms.url}/sms/twilio/status", data=b"MessageSid=\xff",
                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                      "X-Twilio-Signature": "x"}) as resp:
            assert resp.status == 400
