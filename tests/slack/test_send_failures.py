"""Sending replies: rate limits (429 + Retry-After) and server errors are retried; refusals that
will not change (bad token, unknown channel) are not; a reply that finally fails is recorded in
the transcript and the gateway carries on."""

from __future__ import annotations

import logging

import pytest

from bot.messages import OutboundMessage
from bot.stores import memory_stores
from bot.channel_port import DeliveryFailed
from channels.slack import SlackChannel, SlackConfig
from tests.fakes.slack_api import DM_CHANNEL, TEAM, TOKEN, FakeSlackApi, dm
from tests.slack.conftest import MakeGateway, SlackGateway

DM_CID = f"slack:{TEAM}:{DM_CHANNEL}:dm"


async def undelivered(gateway: SlackGateway) -> list[str]:
    transcript = await gateway.stores.transcripts.recent(DM_CID, limit=50)
    return [e["text"] for e in transcript
            if e["role"] == "system" and e["text"].startswith("undelivered")]


async def test_a_rate_limited_send_waits_as_told_and_is_retried(
        gateway: SlackGateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="channels.outbound")
    gateway.slack.fail("chat.postMessage", status=429, error="ratelimited", retry_after="1")
    await gateway.events.send(dm("hi"))
    await gateway.engine.idle()
    assert [c.status for c in gateway.slack.attempts("chat.postMessage")] == [429, 200]
    assert gateway.slack.posts()[0]["text"] == "You said: hi"
    assert "retrying in 1.00s" in caplog.text  # Slack's Retry-After, not our own backoff


@pytest.mark.parametrize("status, error", [
    (500, "internal_error"), (503, "service_unavailable"), (200, "internal_error"),
    (200, "fatal_error")])
async def test_server_errors_are_retried(gateway: SlackGateway, status: int, error: str) -> None:
    gateway.slack.fail("chat.postMessage", status=status, error=error, times=2)
    await gateway.events.send(dm("hi"))
    await gateway.engine.idle()
    assert [c.ok for c in gateway.slack.attempts("chat.postMessage")] == [False, False, True]
    assert len(gateway.slack.posts()) == 1
    assert await undelivered(gateway) == []


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "invalid_auth",
                                   "is_archived"])
async def test_permanent_refusals_are_not_retried_and_are_recorded(
        gateway: SlackGateway, error: str) -> None:
    gateway.slack.fail("chat.postMessage", status=200, error=error)
    await gateway.events.send(dm("hi"))
    await gateway.engine.idle()
    assert len(gateway.slack.attempts("chat.postMessage")) == 1
    [note] = await undelivered(gateway)
    assert error in note


async def test_a_send_that_keeps_failing_is_recorded_and_the_gateway_carries_on(
        gateway: SlackGateway) -> None:
    gateway.slack.fail("chat.postMessage", status=502, error="bad_gateway", times=4)
    await gateway.events.send(dm("first"))
    await gateway.engine.idle()
    assert [c.status for c in gateway.slack.attempts("chat.postMessage")] == [502] * 4
    [note] = await undelivered(gateway)
    assert "HTTP 502" in note and "after 4 attempts" in note
    # the next message is answered normally
    await gateway.events.send(dm("second"))
    [post] = await gateway.slack.wait_for_posts(1)
    assert post["text"] == "You said: second"


async def test_an_unreachable_slack_api_is_retried_then_reported(
        gateway: SlackGateway, unused_tcp_port: int) -> None:
    channel = SlackChannel(gateway.engine.intake_for("slack"), SlackConfig(
        bot_token=TOKEN, signing_secret="s", api_url=f"http://127.0.0.1:{unused_tcp_port}/api/"))
    await channel.start()
    try:
        with pytest.raises(DeliveryFailed, match="after 4 attempts"):
            await channel.deliver(DM_CID, [OutboundMessage(text="hello")])
    finally:
        await channel.close()


async def test_a_failed_bot_identity_lookup_makes_slack_retry_the_event(
        make_gateway: MakeGateway, fake_slack: tuple[FakeSlackApi, str]) -> None:
    slack = fake_slack[0]
    slack.fail("auth.test", status=503, error="service_unavailable", times=2)
    gateway = await make_gateway(memory_stores())
    await slack.wait_for("auth.test", 1, ok=None)  # the start-up lookup, which fails
    event = dm("hi")
    assert await gateway.events.send(event, event_id="Ev1") == 500  # not lost: Slack will retry
    assert gateway.rasa.received == []
    assert await gateway.events.send(event, event_id="Ev1", retry_num=1) == 200
    [post] = await slack.wait_for_posts(1)
    assert post["text"] == "You said: hi"
