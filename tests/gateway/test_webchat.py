"""The web chat channel over its websocket, against a fake Rasa."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.gateway.conftest import Gateway


async def test_new_visitor_gets_a_session_and_empty_history(open_chat: Any) -> None:
    chat = await open_chat()
    frame = await chat.hello()
    assert len(frame["session"]) >= 32
    assert frame["history"] == []


async def test_message_is_acknowledged_then_answered(open_chat: Any) -> None:
    chat = await open_chat()
    await chat.hello()
    msg_id = await chat.say("where is my parcel")
    ack = await chat.next("ack")
    assert ack == {"type": "ack", "id": msg_id, "duplicate": False}
    assert (await chat.reply())["text"] == "You said: where is my parcel"


async def test_typing_indicator_is_shown_while_the_bot_works(open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.delay_s = 0.3
    chat = await open_chat()
    await chat.hello()
    await chat.say("hi")
    assert (await chat.next("typing"))["on"] is True
    await chat.reply()
    assert (await chat.next("typing"))["on"] is False


async def test_resent_message_id_is_answered_once(open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    assert (await chat.send("only once", msg_id="m-1"))["duplicate"] is False
    await chat.reply()
    assert (await chat.send("only once", msg_id="m-1"))["duplicate"] is True
    await gateway.engine.idle()
    assert gateway.rasa.texts() == ["only once"]
    assert chat.kept() == []


async def test_reload_resumes_the_conversation_with_history(open_chat: Any) -> None:
    first = await open_chat()
    await first.hello()
    await first.say("hello")
    await first.reply()
    second = await open_chat()
    frame = await second.hello(first.session)
    assert frame["session"] == first.session
    assert [(e["role"], e["text"]) for e in frame["history"]] == [
        ("customer", "hello"), ("bot", "Hi! I'm an automated assistant.")]
    assert frame["history"][1]["buttons"][0]["payload"] == "/order_status"


async def test_unknown_session_token_starts_a_new_conversation(open_chat: Any) -> None:
    chat = await open_chat()
    frame = await chat.hello("forged-token")
    assert frame["session"] != "forged-token"
    assert frame["history"] == []


async def test_pressing_an_offered_button_sends_its_payload(open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.say("hello")
    await chat.reply()
    await chat.press("Track my order", "/order_status")
    await chat.reply()
    assert gateway.rasa.texts() == ["hello", "/order_status"]


async def test_a_payload_that_was_not_offered_is_sent_as_plain_text(open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.press("Refund me", '/faq{"x": 1}')
    await chat.reply()
    assert gateway.rasa.texts() == ["Refund me"]


async def test_typed_slash_commands_cannot_inject_intents(open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.say('/order_status{"order_id": "482913"}')
    await chat.reply()
    assert gateway.rasa.texts() == ['order_status{"order_id": "482913"}']


async def test_agent_keyword_always_reaches_the_handoff_intent(open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.say("Agent!")
    await chat.reply()
    assert gateway.rasa.texts() == ["/human_handoff"]


async def test_oversized_message_gets_a_polite_reply_and_is_not_sent_to_rasa(
        open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.say("x" * 201)
    reply = await chat.reply()
    assert "long message" in reply["text"] and "200" in reply["text"]
    assert gateway.rasa.texts() == []


async def test_messages_of_one_conversation_are_answered_in_order(
        open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.delay_s = 0.05
    chat = await open_chat()
    await chat.hello()
    for i in range(5):
        await chat.say(f"message {i}")
    texts = [(await chat.reply())["text"] for _ in range(5)]
    assert texts == [f"You said: message {i}" for i in range(5)]


async def test_conversations_are_processed_in_parallel(open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.delay_s = 0.5
    chats = [await open_chat() for _ in range(4)]
    for chat in chats:
        await chat.hello()
    started = asyncio.get_running_loop().time()
    for chat in chats:
        await chat.say("hi")
    await asyncio.gather(*(chat.reply() for chat in chats))
    # Four 0.5 s answers in sequence would take 2 s.
    assert asyncio.get_running_loop().time() - started < 1.5


async def test_replies_reach_every_tab_of_the_conversation(open_chat: Any) -> None:
    tab1 = await open_chat()
    await tab1.hello()
    tab2 = await open_chat()
    await tab2.hello(tab1.session)
    await tab1.say("both tabs")
    assert (await tab1.reply())["text"] == "You said: both tabs"
    echo, answer = await tab2.reply(), await tab2.reply()
    assert (echo["role"], echo["text"]) == ("customer", "both tabs")
    assert (answer["role"], answer["text"]) == ("bot", "You said: both tabs")


async def test_turn_without_a_reply_still_ends_the_typing_indicator(
        open_chat: Any, gateway: Gateway) -> None:
    gateway.rasa.replies = lambda text: []
    chat = await open_chat()
    await chat.hello()
    await chat.say("silence please")
    assert (await chat.next("typing"))["on"] is True
    assert (await chat.next("typing"))["on"] is False


async def test_button_frame_without_title_sends_no_placeholder_text(
        open_chat: Any, gateway: Gateway) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.ws.send_json({"type": "button", "id": "b1", "payload": "/not_offered"})
    await chat.reply()
    assert gateway.rasa.texts() == []  # empty text is answered by the gateway, not Rasa


async def test_flooding_is_refused_with_the_message_id(open_chat: Any) -> None:
    chat = await open_chat()
    await chat.hello()
    for i in range(21):
        await chat.say(f"spam {i}", msg_id=f"m{i}")
    error = await chat.next("error")
    assert (error["code"], error["id"]) == ("rate_limited", "m20")


async def test_frames_before_hello_are_refused(open_chat: Any) -> None:
    chat = await open_chat()
    await chat.say("no hello")
    assert (await chat.next("error"))["code"] == "no_session"


async def test_malformed_frames_get_an_error_not_a_disconnect(open_chat: Any) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.ws.send_str("{not json")
    assert (await chat.next("error"))["code"] == "bad_frame"
    await chat.say("still here")
    assert (await chat.reply())["text"] == "You said: still here"


async def test_foreign_origin_cannot_open_the_websocket(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        try:
            await http.ws_connect(f"{gateway.url}/webchat/ws", headers={"Origin": "https://evil.example"})
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 403
        else:
            raise AssertionError("handshake from a foreign origin succeeded")


@pytest.mark.parametrize("headers", [
    {"Origin": "https://shop.example", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"},
])
async def test_same_origin_behind_a_tls_proxy_is_allowed(gateway: Gateway, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{gateway.url}/webchat/ws", headers=headers)
        await ws.close()


async def test_widget_page_is_served(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(gateway.url + "/") as resp:
            assert resp.status == 200
            assert "/webchat/static/widget.js" in await resp.text()
