"""POST /slack/events under fuzz: whatever arrives, signed or not, the gateway answers with a 4xx
or a 2xx (never a 5xx other than 503), logs no traceback, and lets nothing that Slack did not sign
reach the engine or Rasa."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.slack import MAX_BODY_BYTES
from tests.fakes.slack_api import DM_CHANNEL, SIGNING_SECRET, SUPPORT_CHANNEL, TEAM, dm, mention
from tests.fuzz.conftest import SLACK_INBOX, Fuzzed, failed_on_our_side, tracebacks
from tests.fuzz.strategies import FEW, FUZZ, bodies, content_types, header_values, nested, payloads
from tests.fuzz.wire import Headers, raw_request

pytestmark = pytest.mark.asyncio(loop_scope="module")

PATH = "/slack/events"
FORM = "application/x-www-form-urlencoded"


def envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {"token": "legacy", "team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback",
            "event": event, "event_id": "Ev0FUZZ", "event_time": 1710000000}


EVENTS = [envelope(dm("hello there", ts="1710000000.000001")),
          envelope(mention("hi", ts="1710000000.000002", thread_ts="1710000000.000001")),
          envelope({"type": "message", "channel": SUPPORT_CHANNEL, "user": "UCUSTOMER",
                    "text": "x", "ts": "1710000000.000003", "subtype": "file_share",
                    "files": [{"mimetype": "image/png", "permalink": "https://x/y"}]}),
          envelope({"type": "message", "channel": SLACK_INBOX, "user": "UAGENT", "text": "on it",
                    "ts": "1710000000.000005", "thread_ts": "1700000000.000001"}),
          {"type": "url_verification", "challenge": "abc", "token": "legacy"}]

PRESS = {
    "type": "block_actions", "api_app_id": "A0APP", "token": "legacy",
    "team": {"id": TEAM, "domain": "acme"}, "user": {"id": "UCUSTOMER", "team_id": TEAM},
    "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": DM_CHANNEL},
    "channel": {"id": DM_CHANNEL, "name": "dm"},
    "message": {"type": "message", "ts": "1700000000.000001", "text": "Pick one",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Pick one"}},
                           {"type": "actions", "block_id": f"slack:{TEAM}:{DM_CHANNEL}:dm",
                            "elements": [{"type": "button", "action_id": "choice-0",
                                          "text": {"type": "plain_text", "text": "Track"},
                                          "value": "/order_status"}]}]},
    "actions": [{"type": "button", "action_id": "choice-0",
                 "block_id": f"slack:{TEAM}:{DM_CHANNEL}:dm",
                 "text": {"type": "plain_text", "text": "Track"}, "value": "/order_status",
                 "action_ts": "1700000001.000001"}],
}

INBOX_PRESS = {**PRESS, "channel": {"id": SLACK_INBOX, "name": "inbox"},
               "container": {**PRESS["container"], "channel_id": SLACK_INBOX},
               "actions": [{"type": "button", "action_id": "inbox-claim", "block_id": "inbox:C-1",
                            "text": {"type": "plain_text", "text": "Claim"}, "value": "C-1"}]}

events = st.one_of(*(payloads(e) for e in EVENTS)).map(lambda v: json.dumps(v).encode())
presses = st.one_of(payloads(PRESS), payloads(INBOX_PRESS)).map(lambda v: json.dumps(v))


def signed(body: bytes, *, content_type: str | None, timestamp: int | None = None) -> Headers:
    """Headers as Slack sends them: the signature over the raw bytes, whatever they are."""
    stamp = str(int(time.time()) if timestamp is None else timestamp).encode()
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp + b":" + body,
                      hashlib.sha256).hexdigest()
    headers: Headers = [(b"X-Slack-Request-Timestamp", stamp),
                        (b"X-Slack-Signature", f"v0={digest}".encode())]
    if content_type is not None:
        headers.append((b"Content-Type", content_type.encode()))
    return headers


async def post(fuzzed: Fuzzed, body: bytes, headers: Headers) -> int:
    return (await raw_request(fuzzed.url, PATH, headers=headers, body=body)).status


@FUZZ
@given(body=st.one_of(events, events, bodies),
       content_type=st.one_of(st.just("application/json"), content_types))
async def test_a_signed_body_of_any_shape_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, body: bytes,
        content_type: str | None) -> None:
    seen = len(quiet_caplog.records)
    status = await post(fuzzed, body, signed(body, content_type=content_type))
    await fuzzed.settle()
    assert not failed_on_our_side(status)
    assert tracebacks(quiet_caplog.records[seen:]) == []


@FUZZ
@given(payload=st.one_of(presses, presses, bodies.map(lambda b: b.decode("latin-1"))),
       extra=st.sampled_from(["", "&payload=x", "&a=1&a=2", "&%ff=%fe", "&&&", "&payload"]))
async def test_a_signed_button_press_of_any_shape_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, payload: str,
        extra: str) -> None:
    seen = len(quiet_caplog.records)
    body = f"payload={quote(payload, safe='')}{extra}".encode()
    status = await post(fuzzed, body, signed(body, content_type=FORM))
    await fuzzed.settle()
    assert not failed_on_our_side(status)
    assert tracebacks(quiet_caplog.records[seen:]) == []


UNSIGNED = {
    "no signature headers": lambda body: [],
    "signed with another secret": lambda body: [
        (n, v.replace(b"v0=", b"v0=0")[:67]) if n == b"X-Slack-Signature" else (n, v)
        for n, v in signed(body + b"x", content_type=None)],
    "outside the replay window": lambda body: signed(body, content_type=None,
                                                      timestamp=int(time.time()) - 6 * 60),
    "from the future": lambda body: signed(body, content_type=None,
                                           timestamp=int(time.time()) + 6 * 60),
}


@FEW
@pytest.mark.parametrize("forgery", list(UNSIGNED), ids=list(UNSIGNED))
@given(body=st.one_of(events, bodies))
async def test_an_unsigned_body_reaches_nothing(fuzzed: Fuzzed,
                                                quiet_caplog: pytest.LogCaptureFixture,
                                                forgery: str, body: bytes) -> None:
    await fuzzed.settle()
    before = len(fuzzed.intake.messages), len(fuzzed.rasa.received)
    headers = [*UNSIGNED[forgery](body), (b"Content-Type", b"application/json")]
    assert await post(fuzzed, body, headers) == 401
    await fuzzed.nothing_got_in(intake_before=before[0], rasa_before=before[1])
    assert tracebacks(quiet_caplog.records) == []


@FUZZ
@given(body=events, timestamp=header_values, signature=header_values)
async def test_garbage_signature_headers_are_refused(fuzzed: Fuzzed,
                                                     quiet_caplog: pytest.LogCaptureFixture,
                                                     body: bytes, timestamp: bytes,
                                                     signature: bytes) -> None:
    await fuzzed.settle()
    before = len(fuzzed.intake.messages), len(fuzzed.rasa.received)
    headers = [(b"X-Slack-Request-Timestamp", timestamp), (b"X-Slack-Signature", signature),
               (b"Content-Type", b"application/json")]
    status = await post(fuzzed, body, headers)
    assert status in (400, 401)  # 400: aiohttp refused the header bytes themselves
    await fuzzed.nothing_got_in(intake_before=before[0], rasa_before=before[1])
    assert tracebacks(quiet_caplog.records) == []


@pytest.mark.parametrize("sign", [True, False], ids=["signed", "unsigned"])
async def test_a_body_over_the_cap_is_refused_unread(fuzzed: Fuzzed, sign: bool) -> None:
    body = b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}'
    headers = signed(body, content_type="application/json") if sign else []
    assert await post(fuzzed, body, headers) == 413


@pytest.mark.parametrize("depth", [33, 10_000], ids=["just-too-deep", "10k-levels"])
async def test_a_signed_deeply_nested_body_is_a_bad_request(fuzzed: Fuzzed, depth: int) -> None:
    body = nested(depth)
    assert await post(fuzzed, body, signed(body, content_type="application/json")) == 400


# --- regressions: what the fuzz found (each was a 500 with a traceback) -------------------------
REGRESSIONS = {
    # bolt's middleware indexed into the event ("argument of type 'NoneType' is not iterable")
    "event is null": (json.dumps({**EVENTS[0], "event": None}), "application/json"),
    # bolt reads the last payload field of a form; only the first one was checked
    "a second payload field": (f"payload={quote(json.dumps(PRESS))}&payload=x", FORM),
    # the button listener called .get() on the user, which Slack sends as an object
    "the presser as a bare id": (
        f"payload={quote(json.dumps({**PRESS, 'user': 'UCUSTOMER'}))}", FORM),
    # a JSON escape for a lone surrogate: valid JSON, not text; the journal could not store it
    "a lone surrogate in the press": (
        "payload=" + quote(json.dumps({**PRESS, "container": {**PRESS["container"],
                                                             "message_ts": "\ud800"}})), FORM),
}


@pytest.mark.parametrize("case", list(REGRESSIONS), ids=list(REGRESSIONS))
async def test_a_signed_body_bolt_cannot_handle_is_a_bad_request(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, case: str) -> None:
    text, content_type = REGRESSIONS[case]
    body = text.encode()
    assert await post(fuzzed, body, signed(body, content_type=content_type)) == 400
    assert tracebacks(quiet_caplog.records) == []
