"""Slack takes at most 3,000 characters in a section block: longer replies are split at natural
boundaries into several messages in the same place, and Slack markup in replies is escaped."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_api import channel_message, dm
from tests.slack.conftest import SlackGateway

PARAGRAPH = ("Our returns policy covers every item bought in the last thirty days. " * 12).strip()
LONG_REPLY = "\n\n".join(f"{i}. {PARAGRAPH}" for i in range(1, 10))  # about 7,500 characters


def long_answer(text: str) -> list[dict[str, Any]]:
    return [{"text": LONG_REPLY, "buttons": [{"title": "Thanks", "payload": "/thankyou"}]}]


async def test_a_long_reply_is_sent_as_several_messages_in_the_thread(
        gateway: SlackGateway) -> None:
    gateway.rasa.replies = long_answer
    root = channel_message("tell me everything about returns")
    await gateway.events.send(root)
    await gateway.engine.idle()
    posts = gateway.slack.posts()
    assert len(posts) == 3
    assert all(len(p["blocks"][0]["text"]["text"]) <= 3000 for p in posts)
    assert {p["thread_ts"] for p in posts} == {root["ts"]}
    assert "\n\n".join(p["text"] for p in posts) == LONG_REPLY
    # nothing was refused or retried by Slack for size
    assert all(c.ok for c in gateway.slack.attempts("chat.postMessage"))


async def test_buttons_of_a_long_reply_come_with_its_last_part(gateway: SlackGateway) -> None:
    gateway.rasa.replies = long_answer
    await gateway.events.send(dm("returns?"))
    await gateway.engine.idle()
    posts = gateway.slack.posts()
    assert [[b["type"] for b in p["blocks"]] for p in posts] == [
        ["section"], ["section"], ["section", "actions"]]


async def test_customer_text_is_unescaped_and_replies_escaped(gateway: SlackGateway) -> None:
    # Slack escapes &, < and > in what customers type; real mentions keep their brackets.
    await gateway.events.send(dm("<!channel> R&amp;D &lt;3 <@U999>"))
    [post] = await gateway.slack.wait_for_posts(1)
    assert gateway.rasa.texts() == ["R&D <3"]  # the engine drops mentions before NLU
    assert post["text"] == "You said: R&amp;D &lt;3"


async def test_a_reply_echoing_a_broadcast_cannot_ping_the_channel(gateway: SlackGateway) -> None:
    gateway.rasa.replies = lambda text: [{"text": "Noted: <!channel> & <@U999>"}]
    await gateway.events.send(dm("hi"))
    [post] = await gateway.slack.wait_for_posts(1)
    assert post["text"] == "Noted: &lt;!channel&gt; &amp; &lt;@U999&gt;"
    assert post["blocks"][0]["text"]["text"] == post["text"]
