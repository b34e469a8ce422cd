"""Buttons are inline keyboards: callback_data carries the Rasa payload (a payload over Telegram's
64-byte limit travels as a short id kept in the conversation's state). Pressing one answers the
callback query at once and sends the payload to Rasa; the engine honours it only if offered."""

from __future__ import annotations

from typing import Any

from tests.telegram.conftest import CHAT, Gateway

LONG_PAYLOAD = '/inform{"order_id": "482913", "reason": "the parcel arrived damaged and wet"}'


def keyboard(sent: dict[str, Any]) -> list[list[dict[str, str]]]:
    rows: list[list[dict[str, str]]] = sent["reply_markup"]["inline_keyboard"]
    return rows


def with_buttons(text: str) -> list[dict[str, Any]]:
    if text == "options":
        return [{"text": "What went wrong?", "buttons": [
            {"title": "Damaged", "payload": LONG_PAYLOAD},
            {"title": "Talk to a person", "payload": "/human_handoff"}]}]
    return [{"text": f"You said: {text}"}]


async def test_buttons_are_rendered_as_an_inline_keyboard(gateway: Gateway) -> None:
    await gateway.say("hello")
    [greeting] = await gateway.replies(1)
    assert greeting["text"] == "Hi! I'm an automated assistant."
    assert keyboard(greeting) == [
        [{"text": "Track my order", "callback_data": "/order_status"}],
        [{"text": "Talk to a person", "callback_data": "/human_handoff"}],
    ]


async def test_pressing_a_button_sends_its_payload_to_rasa(gateway: Gateway) -> None:
    await gateway.say("hello")
    [greeting] = await gateway.replies(1)
    press = gateway.updates.press(greeting, "/order_status")
    assert await gateway.post(press) == 200
    [_, answer] = await gateway.replies(2)
    assert answer["text"] == "You said: /order_status"
    assert gateway.rasa.texts() == ["hello", "/order_status"]
    [answered] = gateway.api.calls_to("answerCallbackQuery")
    assert answered.params["callback_query_id"] == press["callback_query"]["id"]
    transcript = await gateway.stores.transcripts.recent(f"telegram:{CHAT}", limit=10)
    assert ("customer", "Track my order") in [(e["role"], e["text"]) for e in transcript]


async def test_a_payload_over_64_bytes_travels_as_a_short_id(gateway: Gateway) -> None:
    gateway.rasa.replies = with_buttons
    await gateway.say("options")
    [question] = await gateway.replies(1)
    damaged, person = (row[0]["callback_data"] for row in keyboard(question))
    assert len(damaged.encode()) <= 64 and damaged != LONG_PAYLOAD
    assert person == "/human_handoff"
    assert await gateway.post(gateway.updates.press(question, damaged)) == 200
    await gateway.replies(2)
    assert gateway.rasa.texts() == ["options", LONG_PAYLOAD]


async def test_a_pressed_button_redelivered_is_handled_once(gateway: Gateway) -> None:
    await gateway.say("hello")
    [greeting] = await gateway.replies(1)
    press = gateway.updates.press(greeting, "/order_status")
    for _ in range(3):
        assert await gateway.post(press) == 200
    await gateway.replies(2)
    await gateway.settle()
    assert gateway.rasa.texts() == ["hello", "/order_status"]
    assert len(gateway.api.calls_to("answerCallbackQuery")) == 1


async def test_a_stale_button_counts_as_its_title_not_as_an_intent(gateway: Gateway) -> None:
    await gateway.say("hello")
    [greeting] = await gateway.replies(1)
    await gateway.say("something else")  # the greeting's buttons are no longer on offer
    await gateway.replies(2)
    assert await gateway.post(gateway.updates.press(greeting, "/order_status")) == 200
    await gateway.replies(3)
    assert gateway.rasa.texts() == ["hello", "something else", "Track my order"]
    assert len(gateway.api.calls_to("answerCallbackQuery")) == 1
