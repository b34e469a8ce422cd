"""Slack trouble never breaks the customer's side: posts are retried like the Slack channel's
(Retry-After honoured), a case whose parent could not be posted gets it with its next event, and
anything that still fails is logged."""

from __future__ import annotations

from bot.state import CaseStatus

import logging

import pytest

from tests.slack_inbox.conftest import (AGENT, HANDOFF_SECRET, InboxGateway, a_package,
                                        messages_until)


async def test_a_rate_limited_post_is_retried(gateway: InboxGateway) -> None:
    gateway.slack.fail("chat.postMessage", status=429, error="ratelimited", retry_after="0")
    case = await gateway.open_case()
    assert [c.status for c in gateway.slack.attempts("chat.postMessage")] == [429, 200]
    assert (await gateway.status(case)).slack_ts == case.ts


async def test_when_slack_is_down_the_customer_flow_goes_on_and_the_case_shows_up_later(
        gateway: InboxGateway, caplog: pytest.LogCaptureFixture) -> None:
    gateway.slack.fail("chat.postMessage", status=503, times=4)  # every attempt of the first post
    chat = await gateway.chat()
    conversation_id = await gateway.stores.sessions.get(chat.session or "")
    async with gateway.http.post(f"{gateway.url}/handoff/v1/cases",
                                 json=a_package(conversation_id or ""),
                                 headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
        assert resp.status == 201
        case_id = (await resp.json())["case_id"]
    await gateway.settle()
    assert gateway.parents() == []
    assert f"opened of case {case_id} not shown in Slack" in caplog.text

    await chat.say("hello? anyone?")
    [ack] = await messages_until(chat, "system")  # the customer is still answered
    assert "added that to your case" in ack["text"]
    await gateway.until(lambda: len(gateway.parents()) == 1)
    await gateway.settle()
    [parent] = gateway.parents()
    assert parent.body["blocks"][0]["text"]["text"].startswith(f"Case {case_id}")
    mirrored = [c.body["text"] for c in gateway.slack.attempts("chat.postMessage")
                if c.ok and c.body.get("thread_ts") == parent.result["ts"]]
    assert mirrored == ["*Customer:* hello? anyone?"]


async def test_a_failed_parent_update_is_logged_and_the_case_still_moves(
        gateway: InboxGateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    case = await gateway.open_case()
    gateway.slack.fail("chat.update", status=200, error="message_not_found")
    assert await gateway.press(case.parent, "Claim", AGENT) == 200
    await messages_until(case.chat, "system")
    await gateway.settle()
    assert (await gateway.status(case)).status is CaseStatus.ACTIVE
    assert f"claimed of case {case.case_id} not shown in Slack" in caplog.text
    await gateway.reply(case, "still works")
    [reply] = await messages_until(case.chat, "agent")
    assert reply["text"] == "still works"
