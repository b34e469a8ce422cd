"""Claim takes a waiting case for the member who pressed it, and the parent message shows who has
it; whoever comes second is told why nothing happened, in a message only they see."""

from __future__ import annotations

from bot.state import CaseStatus

from tests.slack_inbox.conftest import AGENT, AGENT_2, INBOX, Case, InboxGateway, messages_until


def status_line(message_body: dict) -> str:
    context = next(b for b in message_body["blocks"] if b["type"] == "context")
    return context["elements"][0]["text"]


def buttons(message_body: dict) -> list[str]:
    actions = [b for b in message_body["blocks"] if b["type"] == "actions"]
    return [e["text"]["text"] for e in actions[0]["elements"]] if actions else []


async def test_claim_by_a_member_claims_the_case_and_updates_the_parent(
        gateway: InboxGateway, case: Case) -> None:
    assert await gateway.press(case.parent, "Claim", AGENT) == 200
    stored = await gateway.status(case)
    assert (stored.status, stored.agent) == (CaseStatus.ACTIVE, f"slack:{AGENT}")
    [update] = await gateway.slack.wait_for("chat.update", 1)
    assert (update.body["channel"], update.body["ts"]) == (INBOX, case.ts)
    assert f"Claimed by <@{AGENT}>" in status_line(update.body)
    assert buttons(update.body) == ["Return to bot", "Resolve"]
    [joined] = await messages_until(case.chat, "system")
    assert joined["text"] == "A member of our support team has joined the chat."
    assert gateway.slack.ephemerals() == []


async def test_a_second_members_claim_is_refused_with_an_ephemeral_message(
        gateway: InboxGateway, case: Case) -> None:
    await gateway.press(case.parent, "Claim", AGENT)
    assert await gateway.press(case.parent, "Claim", AGENT_2) == 200  # a stale Claim button
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert (told.body["channel"], told.body["user"]) == (INBOX, AGENT_2)
    assert told.body["text"] == (f"Case {case.case_id} is already claimed by <@{AGENT}>, so "
                                 "nothing was changed.")
    assert (await gateway.status(case)).agent == f"slack:{AGENT}"


async def test_a_double_click_tells_the_agent_they_already_have_it(gateway: InboxGateway,
                                                                  case: Case) -> None:
    await gateway.press(case.parent, "Claim", AGENT)
    await gateway.press(case.parent, "Claim", AGENT)
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert told.body["text"] == f"You already have case {case.case_id}."
    await gateway.settle()
    assert len(gateway.slack.updates()) == 1


async def test_return_or_resolve_of_a_waiting_case_asks_to_claim_it_first(
        gateway: InboxGateway, case: Case) -> None:
    await gateway.press(case.parent, "Resolve", AGENT)
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert "still waiting: claim it first" in told.body["text"]
    assert (await gateway.status(case)).status is CaseStatus.QUEUED


async def test_nobody_closes_a_case_a_colleague_has(gateway: InboxGateway, case: Case) -> None:
    await gateway.press(case.parent, "Claim", AGENT)
    [update] = await gateway.slack.wait_for("chat.update", 1)
    await gateway.press(update, "Resolve", AGENT_2)
    await gateway.press(update, "Return to bot", AGENT_2)
    told = await gateway.slack.wait_for("chat.postEphemeral", 2)
    assert all(f"already claimed by <@{AGENT}>" in t.body["text"] for t in told)
    stored = await gateway.status(case)
    assert (stored.status, stored.agent) == (CaseStatus.ACTIVE, f"slack:{AGENT}")
