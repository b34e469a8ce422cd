"""Brute force: five failed sign-ins for one e-mail within 15 minutes lock it for 15 minutes,
whatever the password tried next; other accounts are unaffected."""

from __future__ import annotations

from inbox.console import FAILURE_WINDOW_S, LOCKOUT_S
from tests.console.conftest import ANA, ANA_PASSWORD, BO, AgentFactory, Gateway


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_five_failures_lock_the_account_even_for_the_right_password(
        agent_client: AgentFactory, gateway: Gateway) -> None:
    clock = gateway.console.clock = Clock()
    client = await agent_client()
    for attempt in range(4):
        status, body = await client.login(ANA, f"guess-{attempt}")
        assert status == 401, body
        clock.now += 10
    status, body = await client.login(ANA, "guess-4")
    assert status == 429 and body["error"] == "locked"
    assert "Try again in 15 minutes" in body["message"]

    status, body = await client.login(ANA, ANA_PASSWORD)  # right password, still refused
    assert status == 429 and body["retry_after_s"] == LOCKOUT_S
    assert (await client.get("/me"))[0] == 401

    other = await agent_client()
    assert (await other.login(BO))[0] == 200  # another e-mail is not affected

    # Kept where every gateway instance sees it (stores.conversations, Redis in production).
    state = await gateway.stores.conversations.get(f"console-login:{ANA}")
    assert state["locked_until"] == clock.now + LOCKOUT_S

    clock.now += LOCKOUT_S + 1
    assert (await client.login(ANA))[0] == 200
    assert (await gateway.stores.conversations.get(f"console-login:{ANA}"))["failures"] == []

    actions = [(e["agent"], e["action"]) for e in await gateway.stores.audit.recent(limit=50)]
    assert actions.count((ANA, "login_failed")) == 5
    assert actions.count((ANA, "login_locked")) == 1
    assert actions[-1] == (ANA, "login")


async def test_failures_spread_over_more_than_the_window_do_not_lock(
        agent_client: AgentFactory, gateway: Gateway) -> None:
    clock = gateway.console.clock = Clock()
    client = await agent_client()
    for attempt in range(8):
        assert (await client.login(ANA, f"typo-{attempt}"))[0] == 401
        clock.now += FAILURE_WINDOW_S / 4 + 1  # never five inside one 15-minute window
    assert (await client.login(ANA))[0] == 200


async def test_a_successful_login_resets_the_count(agent_client: AgentFactory,
                                                   gateway: Gateway) -> None:
    gateway.console.clock = Clock()
    client = await agent_client()
    for _ in range(4):
        assert (await client.login(ANA, "nope"))[0] == 401
    assert (await client.login(ANA))[0] == 200
    for _ in range(4):
        assert (await client.login(ANA, "nope"))[0] == 401
    assert (await client.login(ANA))[0] == 200


async def test_unknown_emails_lock_the_same_way_so_accounts_cannot_be_probed(
        agent_client: AgentFactory, gateway: Gateway) -> None:
    gateway.console.clock = Clock()
    client = await agent_client()
    answers = [await client.login("ghost@northwind.example", "x") for _ in range(6)]
    assert [s for s, _ in answers] == [401, 401, 401, 401, 429, 429]
    # Unknown e-mails live in a bounded in-memory table, not in the shared store.
    assert await gateway.stores.conversations.get("console-login:ghost@northwind.example") == {}
