"""Sending survives Telegram's rate limits (429 with retry_after) and server errors (5xx) by
retrying; a blocked bot or an unknown chat is not retried. A send that finally fails is recorded in
the transcript, and the gateway goes on serving."""

from __future__ import annotations

import pytest

from tests.telegram.conftest import CHAT, Gateway


async def undelivered(gateway: Gateway) -> list[str]:
    transcript = await gateway.stores.transcripts.recent(f"telegram:{CHAT}", limit=20)
    return [e["text"] for e in transcript
            if e["role"] == "system" and e["text"].startswith("undelivered")]


async def test_a_rate_limited_send_is_retried_after_retry_after(gateway: Gateway) -> None:
    gateway.api.fail("sendMessage", status=429, retry_after=1,
                     description="Too Many Requests: retry after 1")
    await gateway.say("where is my parcel")
    [reply] = await gateway.replies(1)
    assert reply["text"] == "You said: where is my parcel"
    assert [c.failed for c in gateway.api.calls_to("sendMessage")] == [True, False]


@pytest.mark.parametrize("status, description", [
    (500, "Internal Server Error"),
    (502, "Bad Gateway"),
    (503, "Service Unavailable"),
])
async def test_server_errors_are_retried(gateway: Gateway, status: int, description: str) -> None:
    gateway.api.fail("sendMessage", status=status, description=description, times=2)
    await gateway.say("where is my parcel")
    await gateway.replies(1)
    assert [c.failed for c in gateway.api.calls_to("sendMessage")] == [True, True, False]
    assert await undelivered(gateway) == []


@pytest.mark.parametrize("status, description", [
    (403, "Forbidden: bot was blocked by the user"),
    (400, "Bad Request: chat not found"),
])
async def test_a_permanent_refusal_is_recorded_not_retried(gateway: Gateway, status: int,
                                                           description: str) -> None:
    gateway.api.fail("sendMessage", status=status, description=description)
    await gateway.say("where is my parcel")
    await gateway.settle()
    assert len(gateway.api.calls_to("sendMessage")) == 1
    [record] = await undelivered(gateway)
    assert description.split(": ", 1)[1] in record.lower()


async def test_a_send_that_keeps_failing_is_recorded_and_the_gateway_goes_on(
        gateway: Gateway) -> None:
    gateway.api.fail("sendMessage", status=500, description="Internal Server Error", times=4)
    await gateway.say("where is my parcel")
    await gateway.settle()
    assert [c.failed for c in gateway.api.calls_to("sendMessage")] == [True] * 4
    [record] = await undelivered(gateway)
    assert "after 4 attempts" in record

    await gateway.say("are you there?")
    [reply] = await gateway.replies(1)
    assert reply["text"] == "You said: are you there?"
