"""Outside opening hours a case is a follow-up: the parent says so, and the contact the customer
leaves (masked) shows up in the thread and on the parent."""

from __future__ import annotations

from bot.state import CaseStatus

from tests.slack_inbox.conftest import AGENT, MakeGateway, messages_until


async def test_a_follow_up_case_collects_the_customers_contact(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(agent_hours="never")
    case = await gateway.open_case()
    assert (await gateway.status(case)).status is CaseStatus.FOLLOW_UP
    context = next(b for b in case.parent.body["blocks"] if b["type"] == "context")
    assert "*Follow-up:* nobody was available" in context["elements"][0]["text"]
    actions = next(b for b in case.parent.body["blocks"] if b["type"] == "actions")
    assert actions["elements"][0]["text"]["text"] == "Claim"

    await case.chat.send("you can reach me at jane.doe@example.com")
    await messages_until(case.chat, "system")
    await gateway.until(lambda: len(gateway.thread(case)) == 2)
    await gateway.settle()
    assert gateway.thread(case) == [
        "*Customer:* you can reach me at j***@example.com",
        "The customer left a contact for the follow-up: j***@example.com"]
    context = next(b for b in gateway.latest(case).body["blocks"] if b["type"] == "context")
    assert "The customer left a contact" in context["elements"][0]["text"]
    assert "jane.doe" not in str(gateway.slack.calls)

    await gateway.reply(case, "Hi Jane, we're back: how can I help?")  # when the team is back
    *_, reply = await messages_until(case.chat, "agent")
    assert reply["text"] == "Hi Jane, we're back: how can I help?"
    assert (await gateway.status(case)).agent == f"slack:{AGENT}"
