"""Only Twilio may call the WhatsApp webhooks: a missing or forged signature is refused (403) and
nothing is processed; a body that is not a UTF-8 form gets a 4xx, never a 500."""

from __future__ import annotations

import aiohttp
import pytest

from tests.whatsapp.conftest import CUSTOMER, WhatsAppGateway, new_sid


@pytest.mark.parametrize("path", ["/whatsapp/twilio", "/whatsapp/twilio/status"])
@pytest.mark.parametrize("signature", ["", "forged-signature"])
async def test_an_unsigned_or_forged_request_is_refused(
        whatsapp: WhatsAppGateway, path: str, signature: str) -> None:
    params = whatsapp.twilio.inbound_params(sender=f"whatsapp:{CUSTOMER}", body="hi",
                                            sid=new_sid())
    status, _, _ = await whatsapp.twilio.post_webhook(whatsapp.url, params, path=path,
                                                      signature=signature)
    assert status == 403
    await whatsapp.settle()
    assert whatsapp.rasa.texts() == []


async def test_a_request_signed_for_the_sms_webhook_is_refused(whatsapp: WhatsAppGateway) -> None:
    params = whatsapp.twilio.inbound_params(sender=f"whatsapp:{CUSTOMER}", body="hi",
                                            sid=new_sid())
    status, _, _ = await whatsapp.twilio.post_webhook(
        whatsapp.url, params, path="/whatsapp/twilio",
        sign_url=whatsapp.twilio.public_base_url + "/sms/twilio")
    assert status == 403


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("application/x-www-form-urlencoded; charset=latin-9", b"Body=hi", 415),
    ("application/json", b"{}", 415),
    ("application/x-www-form-urlencoded", b"Body=\xff\xfe", 400),
])
async def test_a_body_that_is_not_a_utf8_form_gets_a_4xx(
        whatsapp: WhatsAppGateway, content_type: str, body: bytes, status: int) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{whatsapp.url}/whatsapp/twilio", data=body,
                             headers={"Content-Type": content_type,
                                      "X-Twilio-Signature": "x"}) as resp:
            assert resp.status == status
