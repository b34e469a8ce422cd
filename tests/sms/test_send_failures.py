"""Sending through the REST API: rate limits (429, honouring Retry-After), server errors (5xx) and
an unreachable API are retried; refusals (4xx such as 21211 invalid 'To') are not. A send that
finally fails is recorded in the transcript by the engine and the gateway carries on."""

from __future__ import annotations


import pytest

from tests.sms.conftest import CUSTOMER, MakeGateway, SmsGateway

CONVERSATION = f"sms:{CUSTOMER}"


async def undelivered(sms: SmsGateway) -> list[str]:
    entries = await sms.stores.transcripts.recent(CONVERSATION, limit=20)
    return [e["text"] for e in entries if e["role"] == "system" and "undelivered" in e["text"]]


async def test_a_rate_limited_send_is_retried_after_retry_after(
        sms: SmsGateway, caplog: pytest.LogCaptureFixture) -> None:
    sms.twilio.fail_next(429, code=20429, message="Too Many Requests", retry_after="1")
    await sms.text("hi")
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["Body"] == "You said: hi"
    assert len(sms.twilio.attempts) == 2
    assert "retrying in 1.00s" in caplog.text


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retried(sms: SmsGateway, status: int) -> None:
    sms.twilio.fail_next(status, times=2)
    await sms.text("hi")
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["Body"] == "You said: hi"
    assert len(sms.twilio.attempts) == 3
    assert [a["Body"] for a in sms.twilio.attempts] == ["You said: hi"] * 3


async def test_a_send_that_keeps_failing_is_recorded_and_the_gateway_carries_on(
        sms: SmsGateway, caplog: pytest.LogCaptureFixture) -> None:
    sms.twilio.fail_next(500, times=4)
    await sms.text("hi")
    await sms.twilio.wait_for_attempts(4)
    await sms.settle()
    assert sms.twilio.sent == []
    assert len(sms.twilio.attempts) == 4
    [note] = await undelivered(sms)
    assert "after 4 attempts" in note
    assert "failed after 4 attempts" in caplog.text
    await sms.text("anyone there?")
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["Body"] == "You said: anyone there?"


@pytest.mark.parametrize(("status", "code"), [(400, 21211), (400, 21408), (401, 20003),
                                              (404, 20404)])
async def test_a_refused_send_is_not_retried(sms: SmsGateway, status: int, code: int,
                                             caplog: pytest.LogCaptureFixture) -> None:
    sms.twilio.fail_next(status, code=code, message="refused")
    await sms.text("hi")
    await sms.twilio.wait_for_attempts(1)
    await sms.settle()
    assert len(sms.twilio.attempts) == 1
    [note] = await undelivered(sms)
    assert f"error {code}" in note
    assert "refused permanently" in caplog.text


async def test_an_unreachable_api_is_retried_then_recorded(make_gateway: MakeGateway,
                                                          unused_tcp_port: int) -> None:
    sms = await make_gateway(TWILIO_API_URL=f"http://127.0.0.1:{unused_tcp_port}")
    await sms.text("hi")
    await sms.settle()
    [note] = await undelivered(sms)
    assert "Twilio API unreachable" in note and "after 4 attempts" in note


async def test_a_refused_part_of_a_long_reply_stops_the_parts_after_it(sms: SmsGateway) -> None:
    sms.rasa.replies = lambda text: [{"text": "\n\n".join(["a" * 1500, "b" * 1500, "c" * 1500])}]
    sms.twilio.fail_next(400, code=21211, after=1)
    await sms.text("long please")
    await sms.twilio.wait_for_attempts(2)
    await sms.settle()
    assert [a["Body"][0] for a in sms.twilio.attempts] == ["a", "b"]
    assert [b[0] for b in sms.twilio.bodies()] == ["a"]
    [note] = await undelivered(sms)
    assert "part 2/3" in note
