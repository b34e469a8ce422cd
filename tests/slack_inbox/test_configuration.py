"""The inbox is on with SLACK_INBOX_CHANNEL plus the Slack app's token and secret, whether or not
the customer-facing Slack channel listens in any channel; it shares the one /slack/events route,
and the customer side leaves the inbox channel alone."""

from __future__ import annotations

import logging

import pytest

from bot.app import create_app
from bot.settings import Settings
from bot.stores import memory_stores
from inbox.slack_inbox import SLACK_INBOX_KEY
from tests.fakes.slack_api import (SIGNING_SECRET, SUPPORT_CHANNEL, TOKEN, channel_message, dm,
                                   mention)
from tests.slack_inbox.conftest import INBOX, MakeGateway


@pytest.mark.parametrize("env", [
    {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
    {"SLACK_INBOX_CHANNEL": INBOX, "SLACK_BOT_TOKEN": TOKEN},
    {"SLACK_INBOX_CHANNEL": INBOX},
], ids=["no inbox channel", "no secret", "no credentials"])
def test_the_inbox_is_off_unless_fully_configured(env: dict[str, str],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="inbox.slack_inbox")
    app = create_app(Settings(), stores=memory_stores(), env=env)
    assert SLACK_INBOX_KEY not in app
    assert "slack inbox: off" in caplog.text


async def test_the_inbox_is_on_and_shares_the_slack_route(make_gateway: MakeGateway,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="inbox.slack_inbox")
    gateway = await make_gateway()
    assert f"slack inbox: on (channel {INBOX})" in caplog.text
    routes = [r.resource.canonical for r in gateway.app.router.routes()
              if r.resource and r.resource.canonical == "/slack/events"]
    assert len(routes) == 1
    await gateway.events.send(dm("hello"))  # the customer-facing channel still works alongside
    [answer] = await gateway.slack.wait_for_posts(1)
    assert answer["text"] == "Hi! I'm an automated assistant."


@pytest.mark.parametrize("event", [
    channel_message("top-level chat among agents", channel=INBOX, user="UAGENT1"),
    mention("what's the refund policy?", channel=INBOX, user="UAGENT1"),
    channel_message("<@UBOT> hi", channel=INBOX, user="UAGENT1"),
], ids=["message", "app_mention", "mention in a message"])
async def test_the_customer_side_ignores_the_inbox_channel(make_gateway: MakeGateway,
                                                           event: dict) -> None:
    # Even when someone also lists the inbox channel in SLACK_CHANNELS by mistake.
    gateway = await make_gateway(SLACK_CHANNELS=f"{SUPPORT_CHANNEL},{INBOX}")
    assert await gateway.events.send(event) == 200
    await gateway.events.send(channel_message("hello", channel=SUPPORT_CHANNEL))
    await gateway.slack.wait_for_posts(1)
    await gateway.settle()
    assert gateway.rasa.texts() == ["hello"]
    assert [p["channel"] for p in gateway.slack.posts()] == [SUPPORT_CHANNEL]
