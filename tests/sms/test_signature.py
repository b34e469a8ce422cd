"""Only requests Twilio signed with our Auth Token are processed. The signature covers the URL
Twilio called (our PUBLIC address: the gateway runs behind a proxy) and every form field. Twilio's
signature carries no timestamp, so a captured request replayed later is stopped by MessageSid
de-duplication: it is acknowledged but never answered twice."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from tests.fakes.twilio_api import FROM_NUMBER, PUBLIC_BASE_URL, FakeTwilio
from tests.sms.conftest import CUSTOMER, SmsGateway, new_sid, twiml_messages

Forgery = Callable[[SmsGateway, dict[str, str]], dict[str, Any]]

FORGERIES: dict[str, Forgery] = {
    "no signature header": lambda sms, params: {"signature": ""},
    "garbage signature": lambda sms, params: {"signature": "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA=="},
    "signed with another auth token": lambda sms, params: {
        "signature": FakeTwilio(auth_token="someone-elses-token").sign(
            PUBLIC_BASE_URL + "/sms/twilio", params)},
    "signed for another host": lambda sms, params: {
        "sign_url": "https://attacker.example.net/sms/twilio"},
    "body changed after signing": lambda sms, params: {
        "signature": sms.twilio.sign(PUBLIC_BASE_URL + "/sms/twilio",
                                     {**params, "Body": "something else"})},
    "signed without the query string": lambda sms, params: {
        "path": "/sms/twilio?tenant=eu", "sign_url": PUBLIC_BASE_URL + "/sms/twilio"},
}


async def test_a_correctly_signed_text_is_answered_by_sms(sms: SmsGateway) -> None:
    status, _, _ = await sms.text("where is my parcel")
    assert status == 200
    [sent] = await sms.twilio.wait_for_sent(1)
    assert (sent["To"], sent["From"], sent["Body"]) == (
        CUSTOMER, FROM_NUMBER, "You said: where is my parcel")


async def test_the_signature_is_checked_against_the_public_url_with_its_query(
        sms: SmsGateway) -> None:
    params = sms.twilio.inbound_params(sender=CUSTOMER, body="hi there", sid=new_sid())
    status, _, _ = await sms.twilio.post_webhook(sms.url, params, path="/sms/twilio?tenant=eu")
    assert status == 200
    assert (await sms.twilio.wait_for_sent(1))[0]["Body"] == "You said: hi there"


async def test_a_request_signed_for_the_gateways_internal_address_is_refused(
        sms: SmsGateway) -> None:
    params = sms.twilio.inbound_params(sender=CUSTOMER, body="hi", sid=new_sid())
    status, _, _ = await sms.twilio.post_webhook(sms.url, params,
                                                 sign_url=sms.url + "/sms/twilio")
    assert status == 403
    await sms.settle()
    assert sms.rasa.received == []


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_unsigned_or_forged_requests_are_refused_and_not_processed(
        sms: SmsGateway, forgery: str) -> None:
    params = sms.twilio.inbound_params(sender=CUSTOMER, body="hello", sid=new_sid())
    status, _, body = await sms.twilio.post_webhook(sms.url, params,
                                                    **FORGERIES[forgery](sms, params))
    assert status == 403
    assert "invalid signature" in body
    await sms.settle()
    assert sms.rasa.received == []
    assert sms.twilio.attempts == []
    assert not await sms.stores.conversations.exists(f"sms:{CUSTOMER}")


async def test_a_replayed_request_is_acknowledged_but_answered_once(sms: SmsGateway) -> None:
    params = sms.twilio.inbound_params(sender=CUSTOMER, body="refund please", sid=new_sid())
    signature = sms.twilio.sign(PUBLIC_BASE_URL + "/sms/twilio", params)
    first = await sms.twilio.post_webhook(sms.url, params, signature=signature)
    await sms.twilio.wait_for_sent(1)
    replayed = await sms.twilio.post_webhook(sms.url, params, signature=signature)
    assert first[0] == replayed[0] == 200
    assert twiml_messages(replayed[2]) == []
    await sms.settle()
    assert sms.rasa.texts() == ["refund please"]
    assert sms.twilio.bodies() == ["You said: refund please"]
