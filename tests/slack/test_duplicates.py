"""Slack redelivers events it thinks we missed and sends both app_mention and message for one
@mention: each customer message is still answered exactly once."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.slack_api import (OTHER_CHANNEL, SUPPORT_CHANNEL, channel_message, dm,
                                   mention)
from tests.slack.conftest import SlackGateway


async def test_slack_retries_of_an_event_are_answered_once(gateway: SlackGateway) -> None:
    event = dm("where is my order")
    assert await gateway.events.send(event, event_id="Ev0001") == 200
    for retry in (1, 2, 3):
        assert await gateway.events.send(event, event_id="Ev0001", retry_num=retry) == 200
    await gateway.slack.wait_for_posts(1)
    await gateway.engine.idle()
    assert len(gateway.slack.posts()) == 1
    assert gateway.rasa.texts() == ["where is my order"]


async def test_the_same_message_delivered_under_new_event_ids_is_answered_once(
        gateway: SlackGateway) -> None:
    event = channel_message("my parcel is late")
    await gateway.events.send(event, event_id="Ev0001")
    await gateway.events.send(event, event_id="Ev0002")
    await gateway.engine.idle()
    assert len(gateway.slack.posts()) == 1


async def test_simultaneous_deliveries_are_answered_once(gateway: SlackGateway) -> None:
    event = dm("hello?")
    statuses = await asyncio.gather(*(gateway.events.send(event, event_id="Ev0001", retry_num=n)
                                      for n in range(5)))
    assert statuses == [200] * 5
    await gateway.engine.idle()
    assert len(gateway.slack.posts()) == 1


@pytest.mark.parametrize("channel", [SUPPORT_CHANNEL, OTHER_CHANNEL])
@pytest.mark.parametrize("mention_first", [True, False], ids=["mention-first", "message-first"])
async def test_a_mention_and_its_message_event_give_one_answer(
        gateway: SlackGateway, channel: str, mention_first: bool) -> None:
    as_mention = mention("is my order shipped?", channel=channel)
    as_message = channel_message(as_mention["text"], channel=channel, ts=as_mention["ts"])
    first, second = (as_mention, as_message) if mention_first else (as_message, as_mention)
    await gateway.events.send(first)
    await gateway.events.send(second)
    await gateway.engine.idle()
    assert len(gateway.slack.posts()) == 1
    assert gateway.rasa.texts() == ["is my order shipped?"]
