"""POST /handoff/v1/cases under fuzz: with the shared secret, any body is a 201 (a valid package),
a 200-family receipt, or a 4xx that says why (400 unreadable, 413 too large, 422 invalid
package); never a 5xx other than 503, never a traceback. Without the secret nothing is read:
no case opens and nothing reaches the engine or Rasa."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.handoff_package import build_package
from bot.handoff import MAX_PACKAGE_BYTES
from tests.fuzz.conftest import HANDOFF_SECRET, Fuzzed, failed_on_our_side, tracebacks
from tests.fuzz.strategies import FEW, FUZZ, bodies, content_types, header_values, nested, payloads
from tests.fuzz.wire import Headers, raw_request

pytestmark = pytest.mark.asyncio(loop_scope="module")

PATH = "/handoff/v1/cases"
EVENTS = [
    {"event": "user", "text": "my parcel has not arrived", "timestamp": 1.0,
     "parse_data": {"intent": {"name": "order_status", "confidence": 0.93}}},
    {"event": "bot", "text": "What's your order number?", "timestamp": 2.0},
    {"event": "user", "text": "I want a person", "timestamp": 3.0,
     "parse_data": {"intent": {"name": "human_handoff", "confidence": 0.97}}},
]


def package(conversation_id: str, channel: str) -> dict[str, Any]:
    return build_package(conversation_id=conversation_id, channel=channel,
                         customer_id=conversation_id, events=EVENTS, slots={"order_id": "482913"},
                         steps_tried=["looked up order 482913"], trigger_kind="customer_request",
                         trigger_detail="asked for a person")


PACKAGES = [package("web:fuzz-1", "web"), package("slack:T0001:D0DM0001:dm", "slack"),
            package("telegram:4242", "telegram"), package("sms:+447700900123", "sms")]
packages = st.one_of(*(payloads(p) for p in PACKAGES)).map(lambda v: json.dumps(v).encode())
BEARER = (b"Authorization", f"Bearer {HANDOFF_SECRET}".encode())


async def post(fuzzed: Fuzzed, body: bytes, headers: Headers) -> int:
    return (await raw_request(fuzzed.url, PATH, headers=headers, body=body)).status


async def cases(fuzzed: Fuzzed) -> int:
    return len(await fuzzed.running.desk.recent(limit=100_000))


@FUZZ
@given(body=st.one_of(packages, packages, bodies),
       content_type=st.one_of(st.just("application/json"), content_types))
async def test_a_package_of_any_shape_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, body: bytes,
        content_type: str | None) -> None:
    seen = len(quiet_caplog.records)
    headers = [BEARER] + ([] if content_type is None else [(b"Content-Type", content_type.encode())])
    status = await post(fuzzed, body, headers)
    await fuzzed.settle()
    assert not failed_on_our_side(status)
    assert status in (200, 201, 400, 413, 422)
    assert tracebacks(quiet_caplog.records[seen:]) == []


@FEW
@pytest.mark.parametrize("authorization", [
    None, b"", b"Bearer", b"Bearer ", b"bearer " + HANDOFF_SECRET.encode(),
    b"Bearer " + HANDOFF_SECRET.encode() + b"\xff", b"Basic " + HANDOFF_SECRET.encode(),
], ids=["missing", "empty", "scheme-only", "no-secret", "lowercase-scheme", "non-utf8-suffix",
        "basic"])
@given(body=st.one_of(packages, bodies))
async def test_a_package_without_the_secret_opens_nothing(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, authorization: bytes | None,
        body: bytes) -> None:
    await fuzzed.settle()
    before = len(fuzzed.intake.messages), len(fuzzed.rasa.received), await cases(fuzzed)
    headers = [] if authorization is None else [(b"Authorization", authorization)]
    assert await post(fuzzed, body, headers) == 401
    await fuzzed.nothing_got_in(intake_before=before[0], rasa_before=before[1])
    assert await cases(fuzzed) == before[2]
    assert tracebacks(quiet_caplog.records) == []


@FUZZ
@given(body=packages, authorization=header_values)
async def test_a_garbage_authorization_header_opens_nothing(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, body: bytes,
        authorization: bytes) -> None:
    before = await cases(fuzzed)
    assert await post(fuzzed, body, [(b"Authorization", authorization)]) == 401
    assert await cases(fuzzed) == before
    assert tracebacks(quiet_caplog.records) == []


async def test_a_package_over_the_cap_is_refused_unread(fuzzed: Fuzzed) -> None:
    body = b'{"a": "' + b"x" * MAX_PACKAGE_BYTES + b'"}'
    assert await post(fuzzed, body, [BEARER]) == 413


@pytest.mark.parametrize("depth", [33, 10_000], ids=["just-too-deep", "10k-levels"])
async def test_a_deeply_nested_package_is_a_bad_request(fuzzed: Fuzzed, depth: int) -> None:
    assert await post(fuzzed, nested(depth), [BEARER]) == 400


# --- regressions: what the fuzz found ---------------------------------------------------------
async def test_a_package_with_a_lone_surrogate_is_a_bad_request(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture) -> None:
    # It passed the schema (it is a string) and failed when the case was stored: a 500.
    text = json.dumps({**PACKAGES[0], "conversation_id": "web:surrogate-\ud800"})
    assert await post(fuzzed, text.encode(), [BEARER]) == 400
    assert tracebacks(quiet_caplog.records) == []
