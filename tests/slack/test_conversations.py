"""Who the bot answers on Slack, and where: DMs in the DM, channel messages in their thread, one
conversation per DM and per thread."""

from __future__ import annotations

import pytest

from channels.slack import SlackAddress
from tests.fakes.slack_api import (CUSTOMER, DM_CHANNEL, OTHER_CHANNEL, SUPPORT_CHANNEL,
                                   TEAM, channel_message, dm, mention, next_ts)
from tests.slack.conftest import SlackGateway


async def test_a_direct_message_is_answered_in_the_dm(gateway: SlackGateway) -> None:
    assert await gateway.events.send(dm("where is my parcel")) == 200
    [post] = await gateway.slack.wait_for_posts(1)
    assert post["channel"] == DM_CHANNEL
    assert "thread_ts" not in post
    assert post["text"] == "You said: where is my parcel"
    assert post["blocks"] == [{"type": "section",
                               "text": {"type": "mrkdwn", "text": "You said: where is my parcel"}}]


async def test_every_dm_message_belongs_to_one_conversation(gateway: SlackGateway) -> None:
    await gateway.events.send(dm("first"))
    await gateway.slack.wait_for_posts(1)
    await gateway.events.send(dm("second"))
    await gateway.slack.wait_for_posts(2)
    assert {r["sender"] for r in gateway.rasa.received} == {f"slack:{TEAM}:{DM_CHANNEL}:dm"}
    state = await gateway.stores.conversations.get(f"slack:{TEAM}:{DM_CHANNEL}:dm")
    assert state.channel == "slack" and state.customer_id == CUSTOMER


async def test_a_message_in_a_listened_channel_is_answered_in_its_thread(
        gateway: SlackGateway) -> None:
    root = channel_message("my order never came")
    await gateway.events.send(root)
    [post] = await gateway.slack.wait_for_posts(1)
    assert post["channel"] == SUPPORT_CHANNEL
    assert post["thread_ts"] == root["ts"]


async def test_replies_in_a_thread_continue_the_thread_conversation(gateway: SlackGateway) -> None:
    root = channel_message("my order never came")
    await gateway.events.send(root)
    await gateway.slack.wait_for_posts(1)
    await gateway.events.send(channel_message("it was order 482913", thread_ts=root["ts"]))
    posts = await gateway.slack.wait_for_posts(2)
    assert [p["thread_ts"] for p in posts] == [root["ts"], root["ts"]]
    thread = f"slack:{TEAM}:{SUPPORT_CHANNEL}:{root['ts']}"
    assert [r["sender"] for r in gateway.rasa.received] == [thread, thread]


async def test_two_threads_in_one_channel_are_two_conversations(gateway: SlackGateway) -> None:
    await gateway.events.send(channel_message("first question"))
    await gateway.events.send(channel_message("second question"))
    await gateway.slack.wait_for_posts(2)
    assert len({r["sender"] for r in gateway.rasa.received}) == 2


async def test_a_mention_elsewhere_is_answered_in_its_thread(gateway: SlackGateway) -> None:
    event = mention("can you check my order?")
    await gateway.events.send(event)
    [post] = await gateway.slack.wait_for_posts(1)
    assert (post["channel"], post["thread_ts"]) == (OTHER_CHANNEL, event["ts"])
    # the mention markup is noise the engine strips before NLU
    assert gateway.rasa.texts() == ["can you check my order?"]


async def test_chatter_in_other_channels_is_left_alone(gateway: SlackGateway) -> None:
    assert await gateway.events.send(channel_message("lunch?", channel=OTHER_CHANNEL)) == 200
    await gateway.engine.idle()
    assert gateway.rasa.received == [] and gateway.slack.posts() == []


async def test_a_thread_the_bot_joined_by_mention_is_followed_without_mentions(
        gateway: SlackGateway) -> None:
    first = mention("where is my order?")
    await gateway.events.send(first)
    await gateway.slack.wait_for_posts(1)
    await gateway.events.send(
        channel_message("482913", channel=OTHER_CHANNEL, thread_ts=first["ts"]))
    posts = await gateway.slack.wait_for_posts(2)
    assert posts[1]["thread_ts"] == first["ts"]
    assert gateway.rasa.texts()[-1] == "482913"


@pytest.mark.parametrize("cid, address", [
    ("slack:T1:D1:dm", SlackAddress("T1", "D1", None)),
    ("slack:T1:C1:1710000000.000100", SlackAddress("T1", "C1", "1710000000.000100")),
])
def test_conversation_ids_carry_the_reply_address(cid: str, address: SlackAddress) -> None:
    assert SlackAddress.parse(cid) == address
    assert address.conversation_id == cid


@pytest.mark.parametrize("cid", ["web:abc", "slack:T1:C1", "slack::C1:dm", "telegram:1:2:3"])
def test_foreign_conversation_ids_are_not_slack_addresses(cid: str) -> None:
    assert SlackAddress.parse(cid) is None


def test_ts_helper_is_unique() -> None:
    assert next_ts() != next_ts()
