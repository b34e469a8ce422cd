"""The customer's web chat widget in a real headless Chromium, against the real gateway app and a
fake Rasa (tests/fakes/rasa.py with the script in conftest.widget_replies)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import WebSocketRoute, expect

from bot.messages import OutboundMessage
from bot.engine import OUTAGE_REPLY
from tests.browser.conftest import GREETING, ChatPage, Gateway

pytestmark = pytest.mark.browser

REPLY_TIMEOUT_MS = 10_000


async def test_enter_sends_and_the_reply_follows_the_typing_indicator(chat: ChatPage,
                                                                      gateway: Gateway) -> None:
    gateway.rasa.delay_s = 0.8
    await chat.open()
    await expect(chat.typing).to_be_hidden()

    await chat.send("Do you ship to Norway?")

    mine = chat.message_with("customer", "Do you ship to Norway?")
    await expect(mine).to_have_count(1)
    await expect(chat.input).to_have_value("")
    await expect(chat.typing).to_be_visible()
    reply = chat.message_with("bot", "You said: Do you ship to Norway?")
    await expect(reply).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    await expect(chat.typing).to_be_hidden()
    await expect(mine).to_have_attribute("data-state", "sent")
    await expect(reply).to_be_in_viewport()
    assert gateway.rasa.texts() == ["Do you ship to Norway?"]
    assert await chat.outbox() == []
    await chat.screenshot("webchat-desktop")


async def test_shift_enter_makes_a_new_line_and_newlines_are_kept(chat: ChatPage,
                                                                  gateway: Gateway) -> None:
    await chat.open()
    await chat.input.click()
    await chat.input.type("line one")
    await chat.input.press("Shift+Enter")
    await chat.input.type("line two")
    await expect(chat.messages()).to_have_count(0)  # nothing was sent by Shift+Enter
    await chat.input.press("Enter")

    reply = chat.message_with("bot", "You said: line one")
    await expect(reply).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    assert await reply.get_by_test_id("msg-text").inner_text() == "You said: line one\nline two"
    mine = chat.messages("customer").get_by_test_id("msg-text")
    assert await mine.inner_text() == "line one\nline two"


async def test_bot_buttons_send_their_payload_and_are_disabled_after_a_click(
        chat: ChatPage, gateway: Gateway) -> None:
    await chat.open()
    await chat.send("hello")
    greeting = chat.message_with("bot", GREETING)
    await expect(greeting).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    buttons = greeting.get_by_test_id("msg-button")
    await expect(buttons).to_have_text(["Where's my order?", "Talk to a person"])
    for button in await buttons.all():
        await expect(button).to_be_enabled()

    await greeting.get_by_role("button", name="Where's my order?").click()

    await expect(chat.message_with("customer", "Where's my order?")).to_be_visible()
    await expect(chat.message_with("bot", "What's your order number?")).to_be_visible(
        timeout=REPLY_TIMEOUT_MS)
    for button in await buttons.all():
        await expect(button).to_be_disabled()
    await gateway.engine.idle()
    assert gateway.rasa.texts() == ["hello", "/order_status"]  # the payload, not the title
    # Clicking a disabled option does nothing.
    await buttons.last.click(force=True)
    await asyncio.sleep(0.3)
    assert gateway.rasa.texts() == ["hello", "/order_status"]
    await expect(chat.messages("customer")).to_have_count(2)


async def test_a_newer_bot_message_disables_older_buttons(chat: ChatPage,
                                                          gateway: Gateway) -> None:
    await chat.open()
    await chat.send("hello")
    await expect(chat.messages("bot")).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
    await chat.send("hello")
    await expect(chat.messages("bot")).to_have_count(2, timeout=REPLY_TIMEOUT_MS)

    first, second = chat.messages("bot").nth(0), chat.messages("bot").nth(1)
    for button in await first.get_by_test_id("msg-button").all():
        await expect(button).to_be_disabled()
    for button in await second.get_by_test_id("msg-button").all():
        await expect(button).to_be_enabled()


async def test_options_stay_usable_when_their_reply_has_more_messages(
        chat: ChatPage, gateway: Gateway) -> None:
    await chat.open()
    await chat.send("options")
    await expect(chat.message_with("bot", "Or just type your question.")).to_be_visible(
        timeout=REPLY_TIMEOUT_MS)
    await expect(chat.typing).to_be_hidden()
    buttons = chat.message_with("bot", "Here is what I can do.").get_by_test_id("msg-button")
    await expect(buttons).to_have_count(2)
    for button in await buttons.all():
        await expect(button).to_be_enabled()


async def test_reload_restores_the_same_conversation(chat: ChatPage, gateway: Gateway) -> None:
    await chat.open()
    await chat.send("hello")
    await expect(chat.message_with("bot", GREETING)).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    await chat.send("My parcel is late")
    await expect(chat.message_with("bot", "You said: My parcel is late")).to_be_visible(
        timeout=REPLY_TIMEOUT_MS)
    token = await chat.session_token()
    assert token

    await chat.page.reload()
    await chat.ensure_open()
    await expect(chat.status).to_have_attribute("data-state", "online")

    roles_and_texts = [("customer", "hello"), ("bot", GREETING),
                       ("customer", "My parcel is late"), ("bot", "You said: My parcel is late")]
    await expect(chat.messages()).to_have_count(len(roles_and_texts))
    await expect(chat.messages().get_by_test_id("msg-text")).to_have_text(
        [text for _, text in roles_and_texts])
    for i, (role, _) in enumerate(roles_and_texts):
        await expect(chat.messages().nth(i)).to_have_attribute("data-role", role)
    assert await chat.session_token() == token
    # A reconnect on the same page (server restart) must not duplicate anything either.
    await gateway.go_down()
    await expect(chat.status).to_have_text("Reconnecting…")
    await gateway.come_back()
    await expect(chat.status).to_have_attribute("data-state", "online", timeout=REPLY_TIMEOUT_MS)
    await expect(chat.messages()).to_have_count(len(roles_and_texts))
    assert await chat.session_token() == token


async def test_links_are_clickable_and_html_is_shown_as_text(chat: ChatPage,
                                                              gateway: Gateway) -> None:
    await chat.open()
    await chat.send("track")
    reply = chat.message_with("bot", "You can follow your parcel")
    await expect(reply).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    link = reply.get_by_role("link")
    await expect(link).to_have_count(1)
    await expect(link).to_have_attribute("href", "https://track.northwind.example/NW-10442")
    await expect(link).to_have_text("https://track.northwind.example/NW-10442")  # not the "."
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))

    payload = "<img src=x onerror=alert(1)>"
    await chat.send(payload)
    echo = chat.message_with("bot", "You said: <img")
    await expect(echo).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    await expect(echo.get_by_test_id("msg-text")).to_have_text(f"You said: {payload}")
    await expect(chat.message_with("customer", payload).get_by_test_id("msg-text")).to_have_text(
        payload)
    await expect(chat.log.locator("img")).to_have_count(0)
    await asyncio.sleep(0.3)
    assert chat.dialogs == []


async def test_server_outage_reconnects_and_delivers_a_queued_message_once(
        chat: ChatPage, gateway: Gateway) -> None:
    await chat.open()
    await chat.send("hello")
    await expect(chat.message_with("bot", GREETING)).to_be_visible(timeout=REPLY_TIMEOUT_MS)

    await gateway.go_down()
    await expect(chat.status).to_have_text("Reconnecting…")
    await chat.send("Are you still there?")
    mine = chat.message_with("customer", "Are you still there?")
    await expect(mine).to_have_attribute("data-state", "pending")
    await expect(mine).to_contain_text("Waiting for connection")
    assert [m["text"] for m in await chat.outbox()] == ["Are you still there?"]
    await asyncio.sleep(1.5)  # a few reconnect attempts fail meanwhile

    await gateway.come_back()
    await expect(chat.status).to_have_text("Online", timeout=REPLY_TIMEOUT_MS)
    await expect(chat.message_with("bot", "You said: Are you still there?")).to_be_visible(
        timeout=REPLY_TIMEOUT_MS)
    await expect(mine).to_have_attribute("data-state", "sent")
    await gateway.engine.idle()
    await asyncio.sleep(0.5)
    assert gateway.rasa.texts().count("Are you still there?") == 1
    await expect(chat.message_with("customer", "Are you still there?")).to_have_count(1)
    assert await chat.outbox() == []


async def test_a_lost_ack_is_resent_with_the_same_id_and_answered_once(
        chat: ChatPage, gateway: Gateway) -> None:
    """The message reaches the server but its ack is lost with the connection: the widget resends
    it with the same id after reconnecting, and the server's de-duplication makes it harmless."""
    gateway.rasa.delay_s = 0.5
    sent_frames: list[dict] = []
    state = {"ack_dropped": False}

    async def handler(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") in ("message", "button"):
                sent_frames.append(frame)
            server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "ack" and not state["ack_dropped"]:
                state["ack_dropped"] = True
                asyncio.get_running_loop().create_task(ws.close(code=4000, reason="test drop"))
                return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    await chat.page.route_web_socket(re.compile(r".*/webchat/ws$"), handler)
    await chat.open()
    await chat.send("Is the oak board food safe?")

    reply = chat.message_with("bot", "You said: Is the oak board food safe?")
    await expect(reply).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
    mine = chat.message_with("customer", "Is the oak board food safe?")
    await expect(mine).to_have_attribute("data-state", "sent", timeout=REPLY_TIMEOUT_MS)
    await gateway.engine.idle()
    await asyncio.sleep(0.5)

    assert state["ack_dropped"]
    assert len(sent_frames) >= 2, "the unacked message was not resent"
    assert {f["id"] for f in sent_frames} == {sent_frames[0]["id"]}, "resent with a new id"
    assert gateway.rasa.texts() == ["Is the oak board food safe?"]
    await expect(mine).to_have_count(1)
    await expect(reply).to_have_count(1)
    assert await chat.outbox() == []


async def test_agent_and_system_messages_are_labelled(chat: ChatPage, gateway: Gateway) -> None:
    await chat.open()
    gateway.rasa.down = True
    await chat.send("Where is my refund?")
    system = chat.messages("system")
    await expect(system).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
    await expect(system.get_by_test_id("msg-text")).to_have_text(OUTAGE_REPLY)
    await expect(system.locator(".nwc-label")).to_have_text("System")

    cid = await gateway.conversation_id(await chat.session_token() or "")
    await gateway.engine.reply(cid, [OutboundMessage(text="Hi, I'm Sam from support.",
                                                     role="agent")])
    agent = chat.messages("agent")
    await expect(agent).to_be_visible()
    await expect(agent.locator(".nwc-label")).to_have_text("Support agent")
    # Customer on the right, everyone else on the left.
    log_box = await chat.log.bounding_box()
    mine_box = await chat.messages("customer").bounding_box()
    agent_box = await agent.bounding_box()
    assert log_box and mine_box and agent_box
    assert mine_box["x"] + mine_box["width"] > log_box["x"] + log_box["width"] - 4
    assert agent_box["x"] < log_box["x"] + 4


async def test_error_frames_show_a_discreet_notice(chat: ChatPage, gateway: Gateway) -> None:
    await chat.open()
    await chat.page.evaluate("""() => {
        const input = document.querySelector('[data-testid="chat-input"]');
        for (let i = 0; i < 21; i++) {
            input.value = 'quick ' + i;
            input.dispatchEvent(new Event('input'));
            input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
        }
    }""")
    notice = chat.page.get_by_test_id("notice").first
    await expect(notice).to_contain_text("sending messages very fast")
    await expect(chat.messages("system")).to_have_count(0)  # a notice, not a message


async def test_long_messages_are_counted_and_blocked(chat: ChatPage, gateway: Gateway) -> None:
    await chat.open()
    counter = chat.page.get_by_test_id("chat-counter")
    send = chat.page.get_by_test_id("chat-send")
    await expect(send).to_be_disabled()
    await chat.input.fill("x" * 1999)
    await expect(counter).to_have_text("1,999 / 2,000")
    await expect(send).to_be_enabled()
    await chat.input.fill("x" * 2001)
    await expect(counter).to_contain_text("2,001 / 2,000")
    await expect(send).to_be_disabled()
    await chat.input.press("Enter")
    await expect(chat.messages()).to_have_count(0)
    await expect(chat.input).to_have_value("x" * 2001)  # kept for the customer to shorten


async def test_mobile_layout_fits_a_375px_screen(mobile_chat: ChatPage, gateway: Gateway) -> None:
    chat = mobile_chat
    await chat.page.goto(gateway.url + "/")
    await chat.ensure_open()  # closed by default on a phone; the launcher opens it
    await expect(chat.status).to_have_text("Online")
    await chat.send("hello")
    greeting = chat.message_with("bot", GREETING)
    await expect(greeting).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    await chat.send("Can I return a mug I've already used? It arrived chipped on one side.")
    await expect(chat.messages("bot")).to_have_count(2, timeout=REPLY_TIMEOUT_MS)

    panel = await chat.page.locator(".nwc-panel").bounding_box()
    assert panel and panel["width"] == 375 and panel["x"] == 0
    overflow = await chat.page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth")
    assert not overflow
    for button in await greeting.get_by_test_id("msg-button").all():
        box = await button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    await expect(chat.input).to_be_in_viewport()
    await chat.screenshot("webchat-mobile")
    await chat.page.keyboard.press("Escape")
    await expect(chat.input).to_be_hidden()
    await chat.screenshot("webchat-mobile-closed")
