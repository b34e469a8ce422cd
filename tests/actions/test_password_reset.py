"""action_password_reset: no account enumeration, rate limits, never a password."""

from __future__ import annotations

import time

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.password_actions import ActionPasswordReset
from tests.actions.conftest import said, slot_events, tracker
from tests.fakes.backend import FakeBackend


async def run(login: str, attempts: list[float] | None = None) -> tuple[list[str], dict]:
    dispatcher = CollectingDispatcher()
    events = await ActionPasswordReset().run(
        dispatcher, tracker(slots={"reset_login": login, "reset_attempts": attempts or []}), {})
    return said(dispatcher), slot_events(events)


@pytest.mark.parametrize("login", ["jane.doe@example.com", "nobody@example.com", "janedoe", "ghost"])
async def test_known_and_unknown_accounts_get_the_same_reply(backend: FakeBackend, login: str) -> None:
    texts, _ = await run(login)
    assert texts == [replies.RESET_SENT]


async def test_reset_is_requested_for_known_account(backend: FakeBackend) -> None:
    await run("jane.doe@example.com")
    assert backend.resets_sent == ["jane.doe@example.com"]


async def test_reply_never_echoes_the_login(backend: FakeBackend) -> None:
    texts, _ = await run("jane.doe@example.com")
    assert "jane" not in texts[0]


async def test_attempts_are_limited_per_conversation(backend: FakeBackend) -> None:
    now = time.time()
    texts, slots = await run("janedoe", attempts=[now - 60, now - 30, now - 10])
    assert texts == [replies.RESET_RATE_LIMITED]
    assert backend.calls == []
    assert slots["handoff_offered"] is True


async def test_old_attempts_do_not_count(backend: FakeBackend) -> None:
    now = time.time()
    texts, slots = await run("janedoe", attempts=[now - 7200, now - 5000, now - 3700])
    assert texts == [replies.RESET_SENT]
    assert len(slots["reset_attempts"]) == 1


async def test_identity_service_rate_limit_is_explained(backend: FakeBackend) -> None:
    backend.reset_status = 429
    texts, _ = await run("janedoe")
    assert texts == [replies.RESET_RATE_LIMITED]


async def test_identity_outage_is_told_honestly_without_resending(backend: FakeBackend) -> None:
    backend.fail_statuses = [500, 500, 500]
    texts, slots = await run("janedoe")
    assert texts == [replies.IDENTITY_UNAVAILABLE]
    # Not idempotent: a 5xx may have sent the e-mail already, so it is not retried.
    assert len(backend.calls) == 1
    assert slots["handoff_offered"] is True


async def test_login_slot_is_cleared(backend: FakeBackend) -> None:
    _, slots = await run("janedoe")
    assert slots["reset_login"] is None
