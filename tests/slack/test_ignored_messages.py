"""Events that are not a customer writing to us are acknowledged (so Slack does not retry them)
and never answered: the bot's own posts, other bots, edits, deletions, joins and the like."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.slack_api import (DM_CHANNEL, SUPPORT_CHANNEL, TEAM, channel_message, dm,
                                   next_ts)
from tests.slack.conftest import SlackGateway

IGNORED: dict[str, dict[str, Any]] = {
    "own post (bot_id)": channel_message("You said: hi", user="UBOT", bot_id="BBOT"),
    "own post (bot user only)": channel_message("You said: hi", user="UBOT"),
    "another bot": dm("beep", subtype="bot_message", bot_id="BOTHER", user="UOTHERBOT"),
    "an integration without user": {"type": "message", "subtype": "bot_message",
                                    "channel": SUPPORT_CHANNEL, "text": "deploy done",
                                    "bot_id": "BCI", "ts": next_ts()},
    "an edit": {"type": "message", "subtype": "message_changed", "channel": DM_CHANNEL,
                "channel_type": "im", "hidden": True, "ts": next_ts(),
                "message": {"type": "message", "user": "UCUSTOMER", "text": "edited",
                            "ts": next_ts()},
                "previous_message": {"type": "message", "user": "UCUSTOMER", "text": "orig"}},
    "a deletion": {"type": "message", "subtype": "message_deleted", "channel": DM_CHANNEL,
                   "channel_type": "im", "hidden": True, "ts": next_ts(),
                   "deleted_ts": next_ts()},
    "a join": channel_message("<@UCUSTOMER> has joined the channel", subtype="channel_join"),
    "a topic change": channel_message("set the topic", subtype="channel_topic", topic="x"),
    "a hidden message": dm("psst", hidden=True),
}


@pytest.mark.parametrize("event", IGNORED.values(), ids=IGNORED.keys())
async def test_non_customer_messages_are_acknowledged_and_ignored(
        gateway: SlackGateway, event: dict[str, Any]) -> None:
    assert await gateway.events.send(event) == 200
    await gateway.engine.idle()
    assert gateway.rasa.received == []
    assert gateway.slack.posts() == []


async def test_events_we_do_not_handle_are_acknowledged(gateway: SlackGateway) -> None:
    reaction = {"type": "reaction_added", "user": "UCUSTOMER", "reaction": "thumbsup",
                "item": {"type": "message", "channel": DM_CHANNEL, "ts": next_ts()},
                "event_ts": next_ts()}
    assert await gateway.events.send(reaction) == 200
    await gateway.engine.idle()
    assert gateway.rasa.received == []


async def test_a_thread_reply_also_sent_to_the_channel_is_customer_text(
        gateway: SlackGateway) -> None:
    root = channel_message("help")
    await gateway.events.send(root)
    await gateway.slack.wait_for_posts(1)
    await gateway.events.send(channel_message("still waiting", thread_ts=root["ts"],
                                              subtype="thread_broadcast"))
    posts = await gateway.slack.wait_for_posts(2)
    assert posts[1]["thread_ts"] == root["ts"]
    assert gateway.rasa.received[-1]["sender"] == f"slack:{TEAM}:{SUPPORT_CHANNEL}:{root['ts']}"
