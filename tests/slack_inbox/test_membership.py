"""Only members of the inbox channel act on cases (conversations.members, cached briefly): anyone
else is told so in an ephemeral message, and nothing happens to the case."""

from __future__ import annotations

from bot.state import CaseStatus

import pytest

from tests.fakes.slack_api import channel_message
from tests.slack_inbox.conftest import (AGENT, AGENT_2, INBOX, OUTSIDER, Case, InboxGateway,
                                        MakeGateway)

REFUSAL = f"Only members of <#{INBOX}> can work on cases"


async def test_a_non_members_claim_is_refused(gateway: InboxGateway, case: Case) -> None:
    assert await gateway.press(case.parent, "Claim", OUTSIDER) == 200
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert (told.body["channel"], told.body["user"]) == (INBOX, OUTSIDER)
    assert told.body["text"].startswith(REFUSAL)
    await gateway.settle()
    assert (await gateway.status(case)).status is CaseStatus.QUEUED
    assert gateway.slack.updates() == []
    assert await case.chat.silence(0.3) == []


async def test_a_non_members_thread_reply_is_refused(gateway: InboxGateway, case: Case) -> None:
    await gateway.reply(case, "I'll take this one", user=OUTSIDER)
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert told.body["user"] == OUTSIDER and told.body["thread_ts"] == case.ts
    assert told.body["text"] == f"{REFUSAL}, so your message was not sent."
    await gateway.settle()
    assert await case.chat.silence(0.3) == []  # the customer heard nothing
    assert (await gateway.status(case)).status is CaseStatus.QUEUED


async def test_membership_is_cached_and_refreshed_when_it_changes(gateway: InboxGateway,
                                                                  case: Case) -> None:
    await gateway.press(case.parent, "Claim", OUTSIDER)
    await gateway.press(case.parent, "Resolve", AGENT_2)
    await gateway.slack.wait_for("chat.postEphemeral", 2)
    assert len(gateway.slack.attempts("conversations.members")) == 1
    gateway.slack.members[INBOX].append(OUTSIDER)  # someone invites them
    await gateway.events.send({"type": "member_joined_channel", "channel": INBOX,
                               "user": OUTSIDER, "channel_type": "C", "team": "T0001"})
    assert await gateway.press(case.parent, "Claim", OUTSIDER) == 200
    assert (await gateway.status(case)).agent == f"slack:{OUTSIDER}"
    assert len(gateway.slack.attempts("conversations.members")) == 2


async def test_every_page_of_members_counts(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway()
    gateway.slack.members_page_limit = 2
    gateway.slack.members[INBOX] = ["UBOT", "U1", "U2", "U3", AGENT]
    case = await gateway.open_case()
    await gateway.press(case.parent, "Claim", AGENT)
    assert (await gateway.status(case)).agent == f"slack:{AGENT}"
    assert len(gateway.slack.attempts("conversations.members")) == 3


async def test_when_membership_cannot_be_checked_nothing_happens(gateway: InboxGateway,
                                                                 case: Case) -> None:
    gateway.slack.fail("conversations.members", status=503, times=2)
    await gateway.press(case.parent, "Claim", AGENT)
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert "could not check who may act on cases" in told.body["text"]
    assert (await gateway.status(case)).status is CaseStatus.QUEUED


async def test_a_refusal_slack_cannot_show_in_the_channel_goes_to_a_dm(gateway: InboxGateway,
                                                                       case: Case) -> None:
    """Slack shows ephemeral messages only to channel members; the refusal then comes as a DM."""
    gateway.slack.fail("chat.postEphemeral", status=200, error="user_not_in_channel")
    await gateway.press(case.parent, "Claim", OUTSIDER)
    await gateway.until(lambda: any(p["channel"] == OUTSIDER for p in gateway.slack.posts()))
    [dm] = [p for p in gateway.slack.posts() if p["channel"] == OUTSIDER]
    assert dm["text"].startswith(REFUSAL)


@pytest.mark.parametrize("user", [OUTSIDER, AGENT])
async def test_messages_outside_case_threads_are_not_checked_or_answered(
        gateway: InboxGateway, case: Case, user: str) -> None:
    await gateway.events.send(channel_message("coffee anyone?", channel=INBOX, user=user))
    await gateway.events.send(channel_message("+1", channel=INBOX, user=user,
                                              thread_ts="1600000000.000001"))
    await gateway.settle()
    assert gateway.slack.attempts("conversations.members") == []
    assert gateway.slack.ephemerals() == [] and gateway.rasa.received == []
