"""Inbox button presses and thread replies arrive at the signed /slack/events route: without a
valid, fresh signature they are refused (HTTP 401) and nothing happens to the case."""

from __future__ import annotations

from bot.state import CaseStatus

import pytest

from tests.fakes.slack_api import Signature
from tests.slack_inbox.conftest import AGENT, Case, InboxGateway

BAD: list[Signature] = ["invalid", "missing", "stale"]


@pytest.mark.parametrize("signature", BAD)
async def test_an_unsigned_button_press_is_refused(gateway: InboxGateway, case: Case,
                                                   signature: Signature) -> None:
    assert await gateway.press(case.parent, "Claim", AGENT, signature=signature) == 401
    await gateway.settle()
    assert (await gateway.status(case)).status is CaseStatus.QUEUED
    assert gateway.slack.updates() == [] and gateway.slack.ephemerals() == []


@pytest.mark.parametrize("signature", BAD)
async def test_an_unsigned_thread_reply_is_refused(gateway: InboxGateway, case: Case,
                                                   signature: Signature) -> None:
    await gateway.reply(case, "forged", signature=signature)
    await gateway.settle()
    assert (await gateway.status(case)).status is CaseStatus.QUEUED
    assert await case.chat.silence(0.3) == []
    assert gateway.slack.attempts("conversations.members") == []
