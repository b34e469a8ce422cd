"""Sends Twilio refuses or fails: retried when Twilio may take them later, reported when not; the
reason Twilio gives is kept with any phone number in it masked (it reaches logs and transcripts)."""

from __future__ import annotations

import pytest

from channels.outbound import RetryableSendError
from channels.twilio_messaging import TwilioAccount, TwilioMessaging, TwilioRefused
from tests.fakes.twilio_api import WHATSAPP_FROM, FakeTwilio

TO = "whatsapp:+447700900999"


@pytest.fixture
async def messaging(fake_twilio: tuple[FakeTwilio, str]) -> TwilioMessaging:
    fake, url = fake_twilio
    client = TwilioMessaging(TwilioAccount(account_sid=fake.account_sid,
                                           auth_token=fake.auth_token,
                                           public_base_url=fake.public_base_url, api_url=url))
    await client.start()
    yield client  # type: ignore[misc]
    await client.close()


async def test_a_refusal_keeps_its_code_and_masks_the_number_twilio_quotes(
        fake_twilio: tuple[FakeTwilio, str], messaging: TwilioMessaging) -> None:
    fake_twilio[0].fail_next(400, code=21211,
                             message="The 'To' number +447700900999 is not a valid phone number.")
    with pytest.raises(TwilioRefused) as refused:
        await messaging.create(to=TO, from_=WHATSAPP_FROM, body="hi")
    assert refused.value.code == 21211
    assert "447700900999" not in str(refused.value)
    assert "0999" in str(refused.value)  # masked, still recognisable


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_send_twilio_may_take_later_is_retryable(
        fake_twilio: tuple[FakeTwilio, str], messaging: TwilioMessaging, status: int) -> None:
    fake_twilio[0].fail_next(status, code=20429 if status == 429 else 20500)
    with pytest.raises(RetryableSendError):
        await messaging.create(to=TO, from_=WHATSAPP_FROM, body="hi")


async def test_a_sender_twilio_does_not_know_is_refused(
        fake_twilio: tuple[FakeTwilio, str], messaging: TwilioMessaging) -> None:
    with pytest.raises(TwilioRefused) as refused:
        await messaging.create(to=TO, from_="whatsapp:+15550001111", body="hi")
    assert refused.value.code == 63007
