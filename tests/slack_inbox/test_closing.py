"""Return to bot hands the conversation back to the assistant, Resolve asks the customer for a
rating; either way the parent message shows how the case ended (and later the rating). A customer
who stops waiting cancels the case, and the parent says so."""

from __future__ import annotations

from bot.state import CaseStatus

from tests.fakes.slack_api import ApiCall
from tests.slack_inbox.conftest import AGENT, Case, InboxGateway, messages_until


async def claimed(gateway: InboxGateway, case: Case) -> ApiCall:
    """Claim the case as AGENT; returns the parent as updated (with Return to bot, Resolve)."""
    await gateway.press(case.parent, "Claim", AGENT)
    await messages_until(case.chat, "system")
    [update] = await gateway.slack.wait_for("chat.update", 1)
    return update


def status_line(gateway: InboxGateway, case: Case) -> str:
    body = gateway.latest(case).body
    return next(b for b in body["blocks"] if b["type"] == "context")["elements"][0]["text"]


def has_buttons(gateway: InboxGateway, case: Case) -> bool:
    return any(b["type"] == "actions" for b in gateway.latest(case).body["blocks"])


async def test_return_to_bot_gives_the_conversation_back_to_the_assistant(
        gateway: InboxGateway, case: Case) -> None:
    update = await claimed(gateway, case)
    assert await gateway.press(update, "Return to bot", AGENT) == 200
    [back] = await messages_until(case.chat, "system")
    assert "back with the automated assistant" in back["text"]
    assert (await gateway.status(case)).status is CaseStatus.RETURNED
    await gateway.settle()
    assert f"Returned to the bot* by <@{AGENT}>" in status_line(gateway, case)
    assert not has_buttons(gateway, case)

    replies = await case.chat.turn("where is my order")
    assert gateway.rasa.texts() == ["where is my order"]
    assert replies[-1]["text"] == "You said: where is my order"
    await gateway.settle()
    assert gateway.thread(case) == []  # no longer a case: nothing mirrored


async def test_resolve_asks_the_customer_for_a_rating(gateway: InboxGateway, case: Case) -> None:
    update = await claimed(gateway, case)
    assert await gateway.press(update, "Resolve", AGENT) == 200
    [question] = await messages_until(case.chat, "system")
    assert "rate us from 1 (poor) to 5 (great)" in question["text"]
    assert [b["payload"] for b in question["buttons"]] == [f"/rate_{n}" for n in range(1, 6)]
    await gateway.settle()
    assert f"*Resolved* by <@{AGENT}>" in status_line(gateway, case)
    assert not has_buttons(gateway, case)

    await case.chat.tap("5", "/rate_5")
    await gateway.settle()
    assert "Rating received: 5/5" in status_line(gateway, case)
    assert gateway.rasa.received == []


async def test_a_customer_who_stops_waiting_cancels_the_case(gateway: InboxGateway,
                                                             case: Case) -> None:
    await case.chat.send("never mind")
    [told] = await messages_until(case.chat, "system")
    assert "cancelled the request" in told["text"]
    await gateway.settle()
    assert "Cancelled by the customer" in status_line(gateway, case)
    assert not has_buttons(gateway, case)
    await gateway.press(case.parent, "Claim", AGENT)  # a stale button
    [refused] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert refused.body["text"] == (f"Case {case.case_id} is already cancelled by the customer, "
                                    "so nothing was changed.")
