"""Nothing in the console answers without a valid agent session, and state changes must come from
the console's own origin (CSRF)."""

from __future__ import annotations

from bot.state import CaseStatus

import aiohttp
import pytest

from tests.console.conftest import ANA, AgentClient, AgentFactory, Gateway, open_case

API_ROUTES = [
    ("GET", "/me"), ("GET", "/cases"), ("GET", "/cases/C-00000000"),
    ("GET", "/cases/C-00000000/suggestions"), ("GET", "/audit"),
    ("POST", "/logout"), ("POST", "/cases/C-00000000/claim"),
    ("POST", "/cases/C-00000000/reply"), ("POST", "/cases/C-00000000/return"),
    ("POST", "/cases/C-00000000/resolve"),
]
BAD_COOKIES = [None, "not-a-session-token-at-all-0000000000", "x", "'; DROP TABLE"]


@pytest.mark.parametrize("method, path", API_ROUTES)
@pytest.mark.parametrize("cookie", BAD_COOKIES[:2], ids=["no-cookie", "forged-cookie"])
async def test_api_without_a_session_is_401(agent_client: AgentFactory, gateway: Gateway,
                                            method: str, path: str, cookie: str | None) -> None:
    client = await agent_client()
    if cookie:
        client.http.cookie_jar.update_cookies({"nw_agent_session": cookie})
    status, body = await client.request(method, "/console/api" + path,
                                        {"text": "hi"} if method == "POST" else None)
    assert status == 401
    assert body["error"] == "unauthorized"


@pytest.mark.parametrize("cookie", BAD_COOKIES, ids=["no-cookie", "forged", "short", "junk"])
async def test_websocket_without_a_session_is_refused_with_401(gateway: Gateway,
                                                               cookie: str | None) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        if cookie:
            jar.update_cookies({"nw_agent_session": cookie})
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(gateway.url + "/console/ws")
        assert refused.value.status == 401
    assert gateway.desk.availability.online == {}


async def test_a_logged_out_session_is_refused_everywhere(ana: AgentClient,
                                                          gateway: Gateway) -> None:
    cookie = next(c for c in ana.http.cookie_jar if c.key == "nw_agent_session").value
    assert (await ana.get("/me"))[0] == 200
    assert (await ana.post("/logout"))[0] == 200
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        http.cookie_jar.update_cookies({"nw_agent_session": cookie})  # a copied cookie
        async with http.get(gateway.url + "/console/api/cases") as resp:
            assert resp.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(gateway.url + "/console/ws")
        assert refused.value.status == 401


@pytest.mark.parametrize("origin", [None, "http://evil.example", "null"],
                         ids=["no-origin", "other-site", "null-origin"])
async def test_state_changes_from_another_origin_are_refused(ana: AgentClient, origin: str | None,
                                                             gateway: Gateway) -> None:
    case_id = await open_case(gateway, "web:csrf-test")
    status, body = await ana.post(f"/cases/{case_id}/claim", origin=origin)
    assert status == 403 and body["error"] == "bad_origin"
    assert (await gateway.desk.get(case_id)).status is CaseStatus.QUEUED
    status, _ = await ana.post("/logout", origin=origin)
    assert status == 403
    assert (await ana.get("/me"))[0] == 200  # still signed in


async def test_login_from_another_origin_is_refused(agent_client: AgentFactory) -> None:
    client = await agent_client()
    status, body = await client.post("/login", {"email": ANA, "password": "x"},
                                     origin="http://evil.example")
    assert status == 403 and body["error"] == "bad_origin"


async def test_websocket_from_another_origin_is_refused(ana: AgentClient, gateway: Gateway) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await ana.http.ws_connect(gateway.url + "/console/ws",
                                  headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403


async def test_the_page_itself_is_public_and_locked_down(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(gateway.url + "/console", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/console/"
        async with http.get(gateway.url + "/console/") as resp:
            assert resp.status == 200
            html = await resp.text()
            assert 'data-testid="login-form"' in html
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert resp.headers["X-Frame-Options"] == "DENY"
        for asset in ("console.js", "console.css"):
            async with http.get(f"{gateway.url}/console/static/{asset}") as resp:
                assert resp.status == 200
        async with http.get(gateway.url + "/console/static/../agents.py") as resp:
            assert resp.status in (403, 404)
