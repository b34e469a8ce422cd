"""The agent console's API under fuzz: sign-in bodies and headers of any shape, and the case routes
with and without a session, are answered with a 2xx or a 4xx (never a 5xx other than 503, never a
traceback). Without a session nothing happens to any case, and Rasa is never asked anything."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from inbox.console import MAX_BODY_BYTES
from inbox.console_auth import COOKIE
from tests.fuzz.conftest import (
    AGENT,
    AGENT_PASSWORD,
    GUESSED,
    HANDOFF_SECRET,
    Fuzzed,
    failed_on_our_side,
    tracebacks,
)
from tests.fuzz.strategies import (
    FEW,
    FUZZ,
    bodies,
    content_types,
    header_values,
    lone_surrogates,
    nested,
    odd_text,
    payloads,
)
from tests.fuzz.test_handoff_endpoint import package
from tests.fuzz.wire import Headers, raw_request

pytestmark = pytest.mark.asyncio(loop_scope="module")

LOGIN = "/console/api/login"
LOGIN_BODY = {"email": GUESSED, "password": "not-the-password"}
ACTIONS = ["claim", "reply", "return", "resolve"]
READS = ["", "/suggestions"]
_clients = iter(range(10**9))


def from_new_client() -> tuple[bytes, bytes]:
    """Failed sign-ins are throttled per client: every example is another one (the gateway
    trusts X-Forwarded-For here), so the fuzz keeps reaching the parser."""
    n = next(_clients)
    return b"X-Forwarded-For", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}".encode()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(fuzzed: Fuzzed) -> str:
    """Ana's session cookie value."""
    async with fuzzed.http.post(fuzzed.url + LOGIN, json={"email": AGENT,
                                                          "password": AGENT_PASSWORD},
                                headers={"Origin": fuzzed.url}) as resp:
        assert resp.status == 200, await resp.text()
        return resp.cookies[COOKIE].value


async def open_case(fuzzed: Fuzzed) -> str:
    """A case for a new web chat customer (a tab said hello), as the handoff action opens it."""
    async with fuzzed.http.ws_connect(f"{fuzzed.url}/webchat/ws") as ws:
        await ws.send_json({"type": "hello", "session": None})
        token = (await ws.receive_json(timeout=5))["session"]
    conversation_id = await fuzzed.running.stores.sessions.get(token)
    assert conversation_id is not None
    async with fuzzed.http.post(fuzzed.url + "/handoff/v1/cases",
                                json=package(conversation_id, "web"),
                                headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["case_id"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def case_id(fuzzed: Fuzzed) -> str:
    """A queued case: the fuzz claims, returns and resolves it."""
    return await open_case(fuzzed)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def claimed_case(fuzzed: Fuzzed, session: str) -> str:
    """A case Ana claimed: her replies to it reach the customer."""
    case = await open_case(fuzzed)
    async with fuzzed.http.post(f"{fuzzed.url}/console/api/cases/{case}/claim", json={},
                                headers={"Origin": fuzzed.url,
                                         "Cookie": f"{COOKIE}={session}"}) as resp:
        assert resp.status == 200, await resp.text()
    return case


def own(fuzzed: Fuzzed) -> Headers:
    return [(b"Origin", fuzzed.url.encode()), (b"Content-Type", b"application/json")]


async def request(fuzzed: Fuzzed, method: str, path: str, *, body: bytes = b"",
                  headers: Headers = ()) -> int:
    return (await raw_request(fuzzed.url, path, method=method, headers=headers,
                              body=body)).status


sign_ins = st.one_of(payloads(LOGIN_BODY),
                     st.fixed_dictionaries({"email": odd_text, "password": odd_text}),
                     st.fixed_dictionaries({"email": st.sampled_from([GUESSED, GUESSED.upper(),
                                                                      f" {GUESSED}\t"]),
                                            "password": odd_text}))


@FUZZ
@given(body=st.one_of(sign_ins.map(lambda v: json.dumps(v).encode()), bodies),
       content_type=st.one_of(st.just("application/json"), content_types))
async def test_a_sign_in_body_of_any_shape_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, body: bytes,
        content_type: str | None) -> None:
    headers = [(b"Origin", fuzzed.url.encode()), from_new_client()]
    if content_type is not None:
        headers.append((b"Content-Type", content_type.encode()))
    status = await request(fuzzed, "POST", LOGIN, body=body, headers=headers)
    assert not failed_on_our_side(status)
    assert status in (200, 400, 401, 413, 429)
    assert tracebacks(quiet_caplog.records) == []


@FUZZ
@given(origin=header_values, forwarded_for=header_values, cookie=header_values)
async def test_sign_in_headers_of_any_value_get_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, origin: bytes,
        forwarded_for: bytes, cookie: bytes) -> None:
    headers = [(b"Origin", origin), (b"X-Forwarded-For", forwarded_for), (b"Cookie", cookie),
               (b"Content-Type", b"application/json")]
    status = await request(fuzzed, "POST", LOGIN, body=json.dumps(LOGIN_BODY).encode(),
                           headers=headers)
    assert status in (400, 401, 403, 429)
    assert tracebacks(quiet_caplog.records) == []


# Percent-encoded, and short enough for aiohttp's 8 KB request line (longer ones are refused
# by its HTTP parser before any route).
case_ids = st.one_of(st.just("C-1"), st.one_of(odd_text, lone_surrogates).filter(bool).map(
    lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")))
route_bodies = st.one_of(payloads({"text": "We are on it."}).map(lambda v: json.dumps(v).encode()),
                         bodies)


@FEW
@pytest.mark.parametrize("action", ACTIONS)
@given(case=case_ids, body=route_bodies,
       cookie=st.one_of(st.just(b""), header_values.map(lambda v: COOKIE.encode() + b"=" + v)))
async def test_a_case_action_without_a_session_changes_nothing(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, case_id: str, action: str,
        case: str, body: bytes, cookie: bytes) -> None:
    before = await what_agents_did(fuzzed, case_id)
    for target in (case, case_id):
        status = await request(fuzzed, "POST", f"/console/api/cases/{target}/{action}",
                               body=body, headers=[*own(fuzzed), (b"Cookie", cookie)])
        assert status == 401 or (status, target) == (404, case)  # 404: no such route ("{")
    assert await what_agents_did(fuzzed, case_id) == before
    assert tracebacks(quiet_caplog.records) == []


async def what_agents_did(fuzzed: Fuzzed, case_id: str) -> tuple[object, ...]:
    """The case's state as agents change it, the audit log's length, and what Rasa was sent."""
    case = await fuzzed.running.desk.require(case_id)
    audit = await fuzzed.running.stores.audit.recent(limit=100_000)
    return (case.status, case.agent, case.closed_at, len(audit), len(fuzzed.rasa.received),
            len(fuzzed.rasa.parsed))


@FEW
@pytest.mark.parametrize("read", READS, ids=["detail", "suggestions"])
@given(case=case_ids)
async def test_reading_a_case_without_a_session_is_refused(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, case_id: str, read: str,
        case: str) -> None:
    before = await what_agents_did(fuzzed, case_id)
    for target in (case, case_id):
        status = await request(fuzzed, "GET", f"/console/api/cases/{target}{read}")
        assert status == 401 or (status, target) == (404, case)  # 404: no such route ("{")
    assert await what_agents_did(fuzzed, case_id) == before
    assert tracebacks(quiet_caplog.records) == []


def signed_in(fuzzed: Fuzzed, session: str, content_type: str | None) -> Headers:
    headers = [(b"Origin", fuzzed.url.encode()), (b"Cookie", f"{COOKIE}={session}".encode())]
    return headers + ([] if content_type is None else [(b"Content-Type", content_type.encode())])


@FUZZ
@given(body=route_bodies, content_type=st.one_of(st.just("application/json"), content_types))
async def test_a_reply_of_any_shape_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, session: str, claimed_case: str,
        body: bytes, content_type: str | None) -> None:
    seen = len(quiet_caplog.records)
    status = await request(fuzzed, "POST", f"/console/api/cases/{claimed_case}/reply",
                           body=body, headers=signed_in(fuzzed, session, content_type))
    assert not failed_on_our_side(status)
    assert status in (200, 400, 413)
    await fuzzed.settle()
    assert tracebacks(quiet_caplog.records[seen:]) == []


@FUZZ
@given(action=st.sampled_from(ACTIONS), case=case_ids, body=route_bodies,
       content_type=st.one_of(st.just("application/json"), content_types))
async def test_a_case_action_with_a_session_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, session: str, case_id: str,
        action: str, case: str, body: bytes, content_type: str | None) -> None:
    seen = len(quiet_caplog.records)
    headers = signed_in(fuzzed, session, content_type)
    for target in (case, case_id):
        status = await request(fuzzed, "POST", f"/console/api/cases/{target}/{action}",
                               body=body, headers=headers)
        assert not failed_on_our_side(status)
        assert status in (200, 400, 404, 409, 413)
    await fuzzed.settle()
    assert tracebacks(quiet_caplog.records[seen:]) == []


@FEW
@given(read=st.sampled_from([*READS, "/../../audit", "/%2e%2e"]), case=case_ids,
       limit=st.one_of(odd_text, st.integers(), st.just("9" * 4400)).map(
           lambda v: quote(str(v), safe="")))
async def test_reading_with_a_session_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, session: str, case_id: str,
        read: str, case: str, limit: str) -> None:
    cookie = [(b"Cookie", f"{COOKIE}={session}".encode())]
    for path in (f"/console/api/cases/{case}{read}", f"/console/api/cases/{case_id}{read}",
                 f"/console/api/audit?limit={limit}"):
        status = await request(fuzzed, "GET", path, headers=cookie)
        assert not failed_on_our_side(status)
        assert status in (200, 400, 404)
    assert tracebacks(quiet_caplog.records) == []


@pytest.mark.parametrize("body", [b'{"email": "' + b"x" * MAX_BODY_BYTES + b'"}', nested(10_000)],
                         ids=["over-the-cap", "10k-levels"])
async def test_an_unreadable_sign_in_body_is_a_client_error(fuzzed: Fuzzed, body: bytes) -> None:
    status = await request(fuzzed, "POST", LOGIN, body=body,
                           headers=[*own(fuzzed), from_new_client()])
    assert status in (400, 413)


# --- regressions: what the fuzz found ---------------------------------------------------------
async def test_a_reply_with_a_lone_surrogate_is_a_bad_request(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, session: str,
        claimed_case: str) -> None:
    # The transcript store could not encode it: a 500 "internal" with a traceback.
    status = await request(fuzzed, "POST", f"/console/api/cases/{claimed_case}/reply",
                           body=b'{"text": "on it \\ud800"}',
                           headers=signed_in(fuzzed, session, "application/json"))
    assert status == 400
    assert tracebacks(quiet_caplog.records) == []
