"""Brute force: five failed sign-ins for one e-mail within 15 minutes lock it for 15 minutes,
whatever the password tried next; other accounts are unaffected. One client spraying passwords
over many accounts is throttled too: twenty failures within 15 minutes refuse it for 15 minutes,
whichever account it tries, and a success in between does not reset its count."""

from __future__ import annotations

from inbox.console_auth import (FAILURE_WINDOW_S, LOCKOUT_S, LOGIN_FAILURES,
                                MAX_CLIENT_FAILURES)
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

    # Kept where every gateway instance sees it (the shared stores, Redis in production).
    state = await gateway.stores.kv.get(LOGIN_FAILURES, ANA)
    assert state["locked_until"] == clock.now + LOCKOUT_S

    clock.now += LOCKOUT_S + 1
    assert (await client.login(ANA))[0] == 200
    assert (await gateway.stores.kv.get(LOGIN_FAILURES, ANA))["failures"] == []

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
    assert await gateway.stores.kv.get(LOGIN_FAILURES, "ghost@northwind.example") is None


async def spray(client: AgentFactory | object, count: int, *, forwarded_for: str | None = None,
                start: int = 0) -> list[int]:
    """`count` failed sign-ins, each with another unknown e-mail (no per-account lockout)."""
    return [(await client.login(f"guess{start + i}@northwind.example", "x",  # type: ignore[attr-defined]
                                forwarded_for=forwarded_for))[0] for i in range(count)]


async def test_one_client_trying_many_accounts_is_throttled(agent_client: AgentFactory,
                                                            gateway: Gateway) -> None:
    gateway.console.clock = Clock()
    client = await agent_client()
    assert set(await spray(client, MAX_CLIENT_FAILURES)) == {401}
    status, body = await client.login(ANA)  # the right password, from the throttled client
    assert status == 429 and body["error"] == "locked"
    actions = [e["action"] for e in await gateway.stores.audit.recent(limit=100)]
    assert "login_throttled" in actions


async def test_the_client_throttle_ends_after_the_lockout(agent_client: AgentFactory,
                                                          gateway: Gateway) -> None:
    clock = gateway.console.clock = Clock()
    client = await agent_client()
    await spray(client, MAX_CLIENT_FAILURES)
    clock.now += LOCKOUT_S + 1
    assert (await client.login(ANA))[0] == 200


async def test_a_success_does_not_reset_the_clients_count(agent_client: AgentFactory,
                                                          gateway: Gateway) -> None:
    gateway.console.clock = Clock()
    client = await agent_client()
    await spray(client, MAX_CLIENT_FAILURES - 1)
    assert (await client.login(ANA))[0] == 200
    assert await spray(client, 1, start=100) == [401]
    assert (await client.login(BO))[0] == 429


async def test_a_forged_forwarded_for_does_not_escape_the_throttle(agent_client: AgentFactory,
                                                                   gateway: Gateway) -> None:
    gateway.console.clock = Clock()
    client = await agent_client()
    for i in range(MAX_CLIENT_FAILURES):
        await spray(client, 1, forwarded_for=f"198.51.100.{i}", start=i)
    assert (await client.login(ANA, forwarded_for="203.0.113.9"))[0] == 429


async def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(
        agent_client: AgentFactory, gateway: Gateway) -> None:
    gateway.console.clock = Clock()
    gateway.console.auth.trust_forwarded_for = True  # what TRUST_FORWARDED_FOR=1 configures
    client = await agent_client()
    await spray(client, MAX_CLIENT_FAILURES, forwarded_for="198.51.100.7")
    assert (await client.login(ANA, forwarded_for="198.51.100.7"))[0] == 429
    assert (await client.login(ANA, forwarded_for="203.0.113.9"))[0] == 200
