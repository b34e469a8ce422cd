"""Buttons are Block Kit buttons; pressing one sends its payload to Rasa through the same
signed /slack/events route, answered in the same place, and the message then shows the choice."""

from __future__ import annotations

import pytest

from bot.messages import Button, OutboundMessage
from channels.slack import render
from tests.fakes.slack_api import DM_CHANNEL, SUPPORT_CHANNEL, TEAM, channel_message, dm
from tests.slack.conftest import SlackGateway

DM_CID = f"slack:{TEAM}:{DM_CHANNEL}:dm"


async def test_buttons_are_rendered_as_a_block_kit_actions_block(gateway: SlackGateway) -> None:
    await gateway.events.send(dm("hello"))
    [post] = await gateway.slack.wait_for_posts(1)
    section, actions = post["blocks"]
    assert section["text"]["text"] == "Hi! I'm an automated assistant."
    assert actions["type"] == "actions"
    assert actions["block_id"] == DM_CID
    assert [(e["type"], e["text"]["text"], e["value"]) for e in actions["elements"]] == [
        ("button", "Track my order", "/order_status"),
        ("button", "Talk to a person", "/human_handoff")]
    assert len({e["action_id"] for e in actions["elements"]}) == 2


async def test_pressing_a_button_sends_its_payload_to_rasa(gateway: SlackGateway) -> None:
    await gateway.events.send(dm("hello"))
    [offer] = await gateway.slack.wait_for("chat.postMessage", 1)
    assert await gateway.events.press(offer, 0) == 200
    posts = await gateway.slack.wait_for_posts(2)
    assert gateway.rasa.texts() == ["hello", "/order_status"]
    assert posts[1]["channel"] == DM_CHANNEL and "thread_ts" not in posts[1]
    transcript = await gateway.stores.transcripts.recent(DM_CID, limit=10)
    assert ("customer", "Track my order") in [(e["role"], e["text"]) for e in transcript]


async def test_a_press_in_a_channel_is_answered_in_the_thread(gateway: SlackGateway) -> None:
    root = channel_message("hello")
    await gateway.events.send(root)
    [offer] = await gateway.slack.wait_for("chat.postMessage", 1)
    await gateway.events.press(offer, 1)
    posts = await gateway.slack.wait_for_posts(2)
    assert (posts[1]["channel"], posts[1]["thread_ts"]) == (SUPPORT_CHANNEL, root["ts"])
    assert gateway.rasa.texts()[-1] == "/human_handoff"


async def test_the_pressed_message_is_updated_to_show_the_choice(gateway: SlackGateway) -> None:
    await gateway.events.send(dm("hello"))
    [offer] = await gateway.slack.wait_for("chat.postMessage", 1)
    await gateway.events.press(offer, 0)
    [update] = await gateway.slack.wait_for("chat.update", 1)
    assert update.body["ts"] == offer.result["ts"]
    assert update.body["channel"] == DM_CHANNEL
    assert [b["type"] for b in update.body["blocks"]] == ["section", "context"]
    assert update.body["blocks"][1]["elements"][0]["text"] == "You chose *Track my order*"


async def test_a_double_click_is_answered_once(gateway: SlackGateway) -> None:
    await gateway.events.send(dm("hello"))
    [offer] = await gateway.slack.wait_for("chat.postMessage", 1)
    assert [await gateway.events.press(offer, 0) for _ in range(2)] == [200, 200]
    await gateway.engine.idle()
    assert gateway.rasa.texts() == ["hello", "/order_status"]
    assert len(gateway.slack.posts()) == 2


async def test_an_unsigned_press_is_refused(gateway: SlackGateway) -> None:
    await gateway.events.send(dm("hello"))
    [offer] = await gateway.slack.wait_for("chat.postMessage", 1)
    assert await gateway.events.press(offer, 1, signature="invalid") == 401
    await gateway.engine.idle()
    assert gateway.rasa.texts() == ["hello"]


async def test_a_payload_that_was_not_offered_is_only_text(gateway: SlackGateway) -> None:
    """A stale button (its offer was replaced by a later turn) cannot trigger an intent."""
    await gateway.events.send(dm("hello"))
    [offer] = await gateway.slack.wait_for("chat.postMessage", 1)
    await gateway.events.send(dm("something else"))
    await gateway.slack.wait_for_posts(2)
    await gateway.events.press(offer, 0)
    await gateway.slack.wait_for_posts(3)
    assert gateway.rasa.texts()[-1] == "Track my order"


@pytest.mark.parametrize("text", ["Pick one", ""])
def test_buttons_ride_with_the_last_part_of_a_reply(text: str) -> None:
    message = OutboundMessage(text=text, buttons=(Button("Yes", "/affirm"), Button("No", "/deny")))
    posts = render(message, DM_CID)
    assert len(posts) == 1
    assert posts[0]["text"]  # a notification text is always present
    assert posts[0]["blocks"][-1]["type"] == "actions"


def test_long_button_titles_are_clipped_to_slacks_limit() -> None:
    message = OutboundMessage(text="Choose", buttons=(Button("x" * 100, "/choose"),))
    [post] = render(message, DM_CID)
    title = post["blocks"][-1]["elements"][0]["text"]["text"]
    assert len(title) == 75 and title.endswith("…")
