"""Telegram takes at most 4096 characters per message: longer replies are split at paragraph,
line, sentence or word boundaries, in order, with any buttons on the last part."""

from __future__ import annotations

from typing import Any

import pytest

from tests.telegram.conftest import Gateway

PARAGRAPH = ("Our returns policy in detail. " * 30).strip()  # ~900 characters


def long_reply(paragraphs: int, *, buttons: bool = False) -> Any:
    text = "\n\n".join(f"{i}. {PARAGRAPH}" for i in range(paragraphs))

    def replies(_: str) -> list[dict[str, Any]]:
        reply: dict[str, Any] = {"text": text}
        if buttons:
            reply["buttons"] = [{"title": "Start a return", "payload": "/return_start"}]
        return [reply]
    return text, replies


@pytest.mark.parametrize("paragraphs, parts", [(4, 1), (5, 2), (11, 3)])
async def test_long_replies_are_split_into_telegram_sized_parts(gateway: Gateway, paragraphs: int,
                                                                parts: int) -> None:
    text, gateway.rasa.replies = long_reply(paragraphs)
    await gateway.say("tell me everything about returns")
    sent = await gateway.replies(parts)
    await gateway.settle()
    assert len(gateway.api.sent()) == parts
    assert all(len(m["text"]) <= 4096 for m in sent)
    assert "\n\n".join(m["text"] for m in sent) == text


async def test_buttons_ride_on_the_last_part(gateway: Gateway) -> None:
    _, gateway.rasa.replies = long_reply(11, buttons=True)
    await gateway.say("tell me everything about returns")
    sent = await gateway.replies(3)
    assert ["reply_markup" in m for m in sent] == [False, False, True]
    assert sent[-1]["reply_markup"]["inline_keyboard"] == [
        [{"text": "Start a return", "callback_data": "/return_start"}]]


async def test_an_image_reply_is_sent_as_a_photo_before_its_text(gateway: Gateway) -> None:
    gateway.rasa.replies = lambda _: [{"text": "Here is the label.",
                                       "image": "https://example.com/label.png"}]
    await gateway.say("send me the return label")
    await gateway.replies(1)
    [photo] = gateway.api.calls_to("sendPhoto")
    assert photo.params["photo"] == "https://example.com/label.png"
    assert [c.method for c in gateway.api.calls if c.method.startswith("send")] == [
        "sendPhoto", "sendMessage"]
