"""A new case posts one parent message in the inbox channel: the context package as Block Kit and
the buttons Claim, Return to bot and Resolve; its ts is kept in the case state."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.state import CLOSED, CaseStatus
from bot.state import Case as StoredCase

from channels.registry import all_facts
from inbox.slack_inbox import render_case
from tests.slack_inbox.conftest import (HANDOFF_SECRET, INBOX, Case, InboxGateway, MakeGateway,
                                        a_package)


def texts(blocks: list[dict]) -> str:
    """Every text in a message's blocks, joined (sections, fields, context, header)."""
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [f["text"] for f in block.get("fields", ())]
        found += [e["text"] for e in block.get("elements", ()) if isinstance(e.get("text"), str)]
    return "\n".join(found)


async def test_a_new_case_posts_one_parent_message_with_its_context(
        gateway: InboxGateway, case: Case) -> None:
    await gateway.settle()
    [parent] = gateway.parents()
    assert parent.body["channel"] == INBOX
    blocks = parent.body["blocks"]
    header = blocks[0]
    assert header["type"] == "header"
    assert header["text"]["text"] == f"Case {case.case_id} · Web chat · customer request"
    body = texts(blocks)
    for expected in [
        "*Why:* asked for a person",
        "*Wants:* the status of an order; to complain about a problem",
        "*Bot did:* looked up order A-1001",
        "*Stopped at:* asked for a person; last customer message: \"agent\"",
        f"*Customer*\nWeb chat visitor {case.conversation_id[-4:].upper()}",
        "*Contact*\nj***@example.com",  # masked, never the address itself
        "order_id: A-1001",
        "order_status 0.93", "complaint 0.71", "human_handoff 1.00",
        "*Sentiment*\n",
        "• looked up order A-1001",
        "Waiting for an agent",
    ]:
        assert expected in body, expected
    assert "jane.doe@example.com" not in str(parent.body)
    assert "worsening" in body or "steady" in body
    assert parent.body["text"].startswith(f"Case {case.case_id} from Web chat")


async def test_the_parent_has_claim_return_and_resolve_buttons(gateway: InboxGateway,
                                                               case: Case) -> None:
    actions = case.parent.body["blocks"][-1]
    assert actions["type"] == "actions"
    assert [(e["text"]["text"], e["value"]) for e in actions["elements"]] == [
        ("Claim", case.case_id), ("Return to bot", case.case_id), ("Resolve", case.case_id)]
    assert len({e["action_id"] for e in actions["elements"]}) == 3


async def test_the_parent_ts_is_kept_in_the_case_state(gateway: InboxGateway, case: Case) -> None:
    assert (await gateway.status(case)).slack_ts == case.ts


async def test_each_case_gets_one_parent_even_if_handed_off_twice(gateway: InboxGateway,
                                                                  case: Case) -> None:
    other = await gateway.open_case()
    assert other.ts != case.ts
    async with gateway.http.post(f"{gateway.url}/handoff/v1/cases",
                                 json=a_package(case.conversation_id),
                                 headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
        assert (await resp.json())["case_id"] == case.case_id  # the open case, not a new one
    await gateway.settle()
    assert len(gateway.parents()) == 2


async def test_the_inbox_counts_as_an_agent_online(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(presence_required=True)
    assert gateway.desk.availability.online == {"slack-inbox": 1}
    case = await gateway.open_case()
    assert (await gateway.status(case)).status is CaseStatus.QUEUED  # not a follow-up
    await gateway.stop()
    assert gateway.desk.availability.online == {}


def a_case(status: CaseStatus = CaseStatus.QUEUED, *, channel: str = "web",
           trigger: dict[str, Any] | None = None, package: dict[str, Any] | None = None,
           agent: str | None = None) -> StoredCase:
    return StoredCase(case_id="C-1", conversation_id=f"{channel}:1", channel=channel,
                      customer_id="1", trigger=trigger or {"kind": "rule"},
                      package=package or {}, opened_at=1.0, status=status, agent=agent)


def test_customer_text_in_the_context_cannot_ping_anyone() -> None:
    case = a_case(trigger={"kind": "complaint", "detail": "<!channel> help"},
                  package={"summary": {"wants": "<@U123>", "bot_did": "a & b", "stopped_at": "x"},
                           "customer": {"id": "web:1"}, "slots": {}, "intents": [],
                           "sentiment": {}, "steps_tried": []})
    _, blocks = render_case(case)
    body = texts(blocks)
    assert "&lt;!channel&gt;" in body and "&lt;@U123&gt;" in body and "a &amp; b" in body
    assert "<!channel>" not in body


@pytest.mark.parametrize("status", sorted(CLOSED))
def test_closed_cases_have_no_buttons(status: CaseStatus) -> None:
    _, blocks = render_case(a_case(status, agent="slack:U1"))
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]


@pytest.mark.parametrize(("channel", "customer_id", "shown"), [
    ("sms", "+15550100001", "SMS customer 0001"),  # a phone number: only its end
    ("telegram", "123456226", "Telegram user 6226"),  # not a phone number, nor shown as one
    ("slack", "slack:T0TEAM:U0CUSTOMER", "Slack user OMER"),
])
def test_the_customer_is_shown_as_the_console_shows_them(channel: str, customer_id: str,
                                                         shown: str) -> None:
    case = a_case(channel=channel, package={"customer": {"id": customer_id}})
    _, blocks = render_case(case, facts=all_facts()[channel])
    assert f"*Customer*\n{shown}" in texts(blocks)
    assert customer_id not in str(blocks) and "[phone" not in str(blocks)


WINDOWED = dataclasses.replace(all_facts()["sms"], name="windowed", label="Windowed",
                               reply_window_s=24 * 3600)


def test_a_channel_with_a_reply_window_says_until_when_a_text_reply_can_go_out() -> None:
    _, blocks = render_case(a_case(), facts=WINDOWED, reply_until=1_700_000_000.0,
                            now=1_699_990_000.0)
    body = texts(blocks)
    # Slack renders <!date^...> in each agent's own time zone; the fallback is UTC.
    assert "<!date^1700000000^Text replies possible until {date_short_pretty} {time}|" \
           "Text replies possible until 22:13 UTC>" in body
    assert "24 h after the customer's last message" in body


def test_a_closed_reply_window_warns_that_text_replies_cannot_be_delivered() -> None:
    _, blocks = render_case(a_case(), facts=WINDOWED, reply_until=1_700_000_000.0,
                            now=1_700_000_001.0)
    assert "Text replies can no longer be delivered. Windowed delivers text replies only " \
           "within 24 h of the customer's last message." in texts(blocks)


def test_a_channel_without_a_reply_window_says_nothing_about_one() -> None:
    _, blocks = render_case(a_case(), facts=all_facts()["sms"])
    assert "replies" not in texts(blocks)
