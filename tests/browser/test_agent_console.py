"""The agent console in a real headless Chromium (Debian's, launched as in conftest.py) against the
real gateway app: sign in, see the queued case, open it, claim it, write a reply with a suggestion
chip, send it with Enter, and the web chat customer receives it over their websocket."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from bot.app import DESK_KEY, ERASURE_KEY, STORES_KEY
from channels.registry import all_facts
from inbox.suggestions import faq_answers
from tests.browser.conftest import ARTIFACTS
from tests.chat_client import ChatClient
from tests.console.conftest import ANA, ANA_PASSWORD, BO, HANDOFF_SECRET, a_package

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


async def open_case(gw: dict[str, Any], conversation_id: str, channel: str = "web",
                    trigger: str = "customer_request", wants: str | None = None) -> str:
    package = a_package(conversation_id, trigger=trigger)
    package["channel"] = channel
    if wants:
        package["summary"]["wants"] = wants
    async with gw["http"].post(f"{gw['url']}/handoff/v1/cases", json=package,
                               headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["case_id"])


async def test_agent_signs_in_claims_and_replies_to_a_web_chat_customer(
        console_gateway: dict[str, Any], console_page: Page) -> None:
    gw, page = console_gateway, console_page
    desk = gw["app"][DESK_KEY]

    # A real web chat customer talks to the bot, then is handed over.
    chat = ChatClient(await gw["http"].ws_connect(f"{gw['url']}/webchat/ws"))
    await chat.hello()
    await chat.turn("my parcel has not arrived")
    conversation_id = await _conversation_of(gw, chat)
    case_id = await open_case(gw, conversation_id)
    # Some company in the queue: a follow-up, another waiting case, one a teammate has.
    await open_case(gw, "sms:+15550100", channel="sms", trigger="negative_sentiment",
                    wants="a refund for a damaged lamp")
    teammate_case = await open_case(gw, "telegram:4242", channel="telegram", trigger="rule",
                                    wants="to change the delivery address")
    await desk.claim(teammate_case, BO)

    # Sign in.
    await page.goto(gw["url"] + "/console")
    await expect(page.get_by_test_id("login-form")).to_be_visible()
    await page.get_by_label("Work e-mail").fill(ANA)
    await page.get_by_label("Password").fill("not-my-password")
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("login-error")).to_have_text(
        "Wrong e-mail address or password.")
    await page.get_by_label("Password").fill(ANA_PASSWORD)
    await page.get_by_label("Password").press("Enter")
    await expect(page.get_by_test_id("app")).to_be_visible()
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "online")
    await expect(page.get_by_test_id("me")).to_contain_text("Ana")

    # The queue shows the case, waiting first.
    item = page.locator(f'[data-testid="queue-item"][data-case-id="{case_id}"]')
    await expect(item).to_be_visible()
    await expect(item.get_by_test_id("status-badge")).to_have_text("Waiting · #1")
    await expect(item.get_by_test_id("channel")).to_have_text("Web chat")
    teammate = page.locator(f'[data-testid="queue-item"][data-case-id="{teammate_case}"]')
    # Each channel shown with the label and icon its module declares.
    await expect(teammate.get_by_test_id("channel")).to_have_text("Telegram")
    await expect(teammate.get_by_test_id("channel").locator("path")).to_have_attribute(
        "d", all_facts()["telegram"].icon)
    await expect(teammate.get_by_test_id("status-badge")).to_have_text("Active · Bo")

    # A teammate's case cannot be claimed.
    await teammate.click()
    await expect(page.get_by_test_id("claim-button")).to_be_disabled()
    await expect(page.get_by_test_id("claim-button")).to_contain_text("Claimed by Bo")
    await expect(page.get_by_test_id("reply-input")).to_be_disabled()

    # Open ours: the context package, summary first, and the transcript.
    await item.click()
    await expect(page.get_by_test_id("case-id")).to_have_text(case_id)
    summary = page.get_by_test_id("context-summary")
    await expect(summary).to_contain_text("the status of an order")
    await expect(page.get_by_test_id("context-slots")).to_contain_text("NW-10442")
    top_intent = page.get_by_test_id("context-intents").get_by_test_id("intent").first
    await expect(top_intent).to_contain_text("97%")
    await expect(page.get_by_test_id("context-steps")).to_contain_text("looked up order NW-10442")
    transcript = page.get_by_test_id("transcript")
    await expect(transcript.locator('[data-role="customer"]').first).to_contain_text(
        "my parcel has not arrived")
    await expect(transcript.locator('[data-role="bot"]').first).to_contain_text("You said:")
    await expect(page.get_by_test_id("reply-input")).to_be_disabled()

    # Claim: the customer is told a person joined.
    await page.get_by_test_id("claim-button").click()
    await expect(page.get_by_test_id("case-status")).to_have_text("Active · You")
    joined = await chat.reply()
    assert joined["role"] == "system" and "Ana from our support team has joined" in joined["text"]
    await expect(page.get_by_test_id("return-button")).to_be_visible()
    await expect(page.get_by_test_id("resolve-button")).to_be_visible()

    # The customer writes: it appears live, and suggestions follow the new message.
    await chat.say("It was supposed to be express shipping, how long should that take?")
    await expect(transcript.locator('[data-role="customer"]').last).to_contain_text(
        "express shipping", timeout=TIMEOUT_MS)
    chips = page.get_by_test_id("suggestion")
    await expect(chips).to_have_count(3)
    await expect(chips.first).to_contain_text("Shipping time")

    # Type, insert a suggestion, edit, send with Enter.
    reply_box = page.get_by_test_id("reply-input")
    await expect(reply_box).to_be_enabled()
    await reply_box.fill("Sorry about the wait!")
    await chips.first.click()
    await expect(reply_box).to_be_focused()
    await reply_box.press("End")
    await reply_box.type(" Yours left our warehouse on Monday.")
    expected = ("Sorry about the wait!\n" + faq_answers()["shipping_time"]
                + " Yours left our warehouse on Monday.")
    await expect(reply_box).to_have_value(expected)
    await page.screenshot(path=str(ARTIFACTS / "agent-console-composing.png"))
    await reply_box.press("Enter")

    # The customer receives it over their websocket, as the agent.
    received = await chat.reply(timeout=TIMEOUT_MS / 1000)
    assert received["role"] == "agent"
    assert received["text"] == expected
    await expect(reply_box).to_have_value("")
    await expect(transcript.locator('[data-role="agent"]').last).to_contain_text(
        "Yours left our warehouse on Monday.")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "agent-console.png"))

    # Resolve: the customer is asked for a rating, the queue moves the case to closed.
    await page.get_by_test_id("resolve-button").click()
    await expect(page.get_by_test_id("case-status")).to_have_text("Resolved")
    rating = await chat.reply()
    assert "rate us from 1 (poor) to 5 (great)" in rating["text"]
    closed = page.locator(f'[data-testid="queue-closed"] [data-case-id="{case_id}"]')
    await expect(closed).to_be_visible()

    # The audit log is one click away and shows what happened, replies by length only.
    await page.get_by_test_id("audit-button").click()
    rows = page.get_by_test_id("audit-row")
    await expect(rows.first).to_be_visible()
    actions = await rows.evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert {"login", "login_failed", "view", "claim", "reply", "resolve"} <= set(actions)
    await expect(page.locator('[data-testid="audit-row"][data-action="reply"]')).to_contain_text(
        f"{len(expected)} characters")
    await expect(page.get_by_test_id("audit-panel")).not_to_contain_text("warehouse")
    await page.screenshot(path=str(ARTIFACTS / "agent-console-audit.png"))
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("audit-panel")).to_be_hidden()


async def test_a_new_case_appears_live_and_sign_out_returns_to_the_form(
        console_gateway: dict[str, Any], console_page: Page) -> None:
    gw, page = console_gateway, console_page
    await page.goto(gw["url"] + "/console/")
    await expect(page.get_by_test_id("login-email")).to_be_focused()
    await page.screenshot(path=str(ARTIFACTS / "agent-console-login.png"))
    await page.get_by_test_id("login-email").fill(ANA)
    await page.get_by_test_id("login-password").fill(ANA_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "online")
    await expect(page.get_by_test_id("queue-waiting")).to_contain_text("Nobody is waiting")
    await page.screenshot(path=str(ARTIFACTS / "agent-console-empty.png"))

    case_id = await open_case(gw, "web:live-test")  # no reload: pushed over the websocket
    pushed = page.locator(f'[data-testid="queue-item"][data-case-id="{case_id}"]')
    await expect(pushed).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("toast").first).to_contain_text(f"New case {case_id}")
    await expect(page).to_have_title("(1) Agent console · Northwind Support")

    await page.get_by_test_id("signout-button").click()
    await expect(page.get_by_test_id("login-form")).to_be_visible()
    # The cookie is gone and the API refuses the old session.
    status = await page.evaluate("fetch('/console/api/cases').then(r => r.status)")
    assert status == 401
    await page.reload()
    await expect(page.get_by_test_id("login-form")).to_be_visible()


async def test_an_erased_customers_case_leaves_the_screen_at_once(
        console_gateway: dict[str, Any], console_page: Page) -> None:
    gw, page = console_gateway, console_page
    chat = ChatClient(await gw["http"].ws_connect(f"{gw['url']}/webchat/ws"))
    await chat.hello()
    await chat.turn("my parcel has not arrived")
    conversation_id = await _conversation_of(gw, chat)
    case_id = await open_case(gw, conversation_id)
    other_case = await open_case(gw, "sms:+15550100", channel="sms")

    await page.goto(gw["url"] + "/console/")
    await page.get_by_test_id("login-email").fill(ANA)
    await page.get_by_test_id("login-password").fill(ANA_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    item = page.locator(f'[data-testid="queue-item"][data-case-id="{case_id}"]')
    await item.click()
    await expect(page.get_by_test_id("case-id")).to_have_text(case_id)
    await expect(page.get_by_test_id("transcript")).to_contain_text("my parcel has not arrived")

    # The customer completes the deletion flow: the gateway erases the conversation.
    await gw["app"][ERASURE_KEY].erase(conversation_id)

    await expect(item).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.get_by_test_id("case-view")).to_be_hidden()
    await expect(page.get_by_test_id("case-empty")).to_be_visible()
    await expect(page.get_by_test_id("toast").first).to_contain_text(
        "asked for their data to be deleted")
    await expect(page.locator("body")).not_to_contain_text("my parcel has not arrived")
    # Other customers' cases stay.
    await expect(page.locator(
        f'[data-testid="queue-item"][data-case-id="{other_case}"]')).to_be_visible()
    # A reload finds nothing either: the case is gone from the store, not just hidden.
    await page.reload()
    await expect(page.locator(
        f'[data-testid="queue-item"][data-case-id="{other_case}"]')).to_be_visible()
    await expect(item).to_have_count(0)


async def _conversation_of(gw: dict[str, Any], chat: ChatClient) -> str:
    cid = await gw["app"][STORES_KEY].sessions.get(chat.session or "")
    assert cid is not None
    return str(cid)
