"""Signing in and out: a hashed, expiring, HttpOnly session cookie; wrong passwords refused."""

from __future__ import annotations

import hashlib

import pytest

from inbox.console_auth import COOKIE, SESSION_TTL_S
from tests.console.conftest import ANA, BO, AgentFactory, Gateway


async def test_login_sets_a_strict_httponly_session_cookie(agent_client: AgentFactory,
                                                           gateway: Gateway) -> None:
    client = await agent_client()
    async with client.http.post(gateway.url + "/console/api/login",
                                json={"email": "  Ana@Northwind.example ",
                                      "password": "ana-correct-horse"},
                                headers={"Origin": gateway.url}) as resp:
        assert resp.status == 200
        assert (await resp.json())["agent"] == {"email": ANA, "name": "Ana", "role": "agent"}
        header = resp.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header
    assert "Path=/console" in header and f"Max-Age={SESSION_TTL_S}" in header
    assert "Secure" not in header  # plain http on loopback; behind https it is set

    token = resp.cookies[COOKIE].value
    assert len(token) >= 40
    # Stored hashed, under the agent: namespace, never as the raw token.
    assert await gateway.stores.sessions.get(token) is None
    key = "agent:" + hashlib.sha256(token.encode()).hexdigest()
    assert await gateway.stores.sessions.get(key) == "agent:" + ANA

    status, body = await client.get("/me")
    assert status == 200 and body["agent"]["email"] == ANA


async def test_cookie_is_secure_behind_an_https_proxy(agent_client: AgentFactory,
                                                      gateway: Gateway) -> None:
    client = await agent_client()
    async with client.http.post(gateway.url + "/console/api/login",
                                json={"email": ANA, "password": "ana-correct-horse"},
                                headers={"Origin": "https://console.northwind.example",
                                         "X-Forwarded-Proto": "https",
                                         "X-Forwarded-Host": "console.northwind.example"}) as resp:
        assert resp.status == 200
        assert "Secure" in resp.headers["Set-Cookie"]


async def test_two_logins_get_two_different_sessions(agent_client: AgentFactory) -> None:
    one, two = await agent_client(ANA), await agent_client(ANA)
    tokens = {next(c for c in a.http.cookie_jar if c.key == COOKIE).value for a in (one, two)}
    assert len(tokens) == 2


@pytest.mark.parametrize("email, password", [
    (ANA, "wrong-password"),
    (ANA, "ANA-CORRECT-HORSE"),
    (ANA, "bo-battery-staple"),          # another agent's password
    ("nobody@northwind.example", "ana-correct-horse"),
])
async def test_wrong_credentials_are_refused_with_one_message(agent_client: AgentFactory,
                                                              gateway: Gateway, email: str,
                                                              password: str) -> None:
    client = await agent_client()
    status, body = await client.login(email, password)
    assert status == 401
    assert body == {"error": "bad_credentials", "message": "Wrong e-mail address or password."}
    assert not any(c.key == COOKIE for c in client.http.cookie_jar)
    assert (await client.get("/me"))[0] == 401


@pytest.mark.parametrize("body", [{}, {"email": ANA}, {"email": ANA, "password": ""},
                                  {"email": 1, "password": 2},
                                  {"email": ANA, "password": "x" * 2000},
                                  ["not", "an", "object"]])
async def test_malformed_logins_are_400(agent_client: AgentFactory, body: object) -> None:
    client = await agent_client()
    status, answer = await client.post("/login", body)
    assert status == 400 and answer["error"] == "bad_request"


async def test_login_body_that_is_not_json_is_400(agent_client: AgentFactory,
                                                  gateway: Gateway) -> None:
    client = await agent_client()
    async with client.http.post(gateway.url + "/console/api/login", data=b"{nope",
                                headers={"Origin": gateway.url}) as resp:
        assert resp.status == 400


async def test_logout_ends_only_that_session(agent_client: AgentFactory) -> None:
    ana_laptop, ana_phone = await agent_client(ANA), await agent_client(ANA)
    bo = await agent_client(BO)
    status, _ = await ana_laptop.post("/logout")
    assert status == 200
    assert not any(c.key == COOKIE and c.value for c in ana_laptop.http.cookie_jar)
    assert (await ana_laptop.get("/me"))[0] == 401
    assert (await ana_phone.get("/me"))[0] == 200
    assert (await bo.get("/me"))[0] == 200


async def test_session_lasts_twelve_hours(agent_client: AgentFactory, gateway: Gateway) -> None:
    given: list[int] = []
    put = gateway.stores.sessions.put

    keys: list[tuple[str, str]] = []

    async def spy(token: str, value: str, *, ttl_s: int) -> None:
        given.append(ttl_s)
        keys.append((token, value))
        await put(token, value, ttl_s=ttl_s)

    gateway.stores.sessions.put = spy  # type: ignore[method-assign]
    client = await agent_client(ANA)
    assert given == [SESSION_TTL_S] == [12 * 3600]

    # Once the store lets it expire (tests/stores: sessions expire), the session is gone.
    [(key, _)] = keys
    await put(key, "expired", ttl_s=0)
    assert (await client.get("/me"))[0] == 401


async def test_an_account_removed_from_configuration_loses_its_session(
        agent_client: AgentFactory, gateway: Gateway) -> None:
    client = await agent_client(BO)
    del gateway.console.accounts[BO]
    assert (await client.get("/cases"))[0] == 401
