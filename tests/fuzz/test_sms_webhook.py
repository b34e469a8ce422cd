"""POST /sms/twilio under fuzz: a form Twilio signed (against PUBLIC_BASE_URL + the path it
called) is answered with TwiML or a 4xx whatever its fields hold; anything unsigned, or signed
with another token or for another URL, reaches neither the engine nor Rasa. Never a 5xx other
than 503, never a traceback."""

from __future__ import annotations

from typing import Mapping
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.sms import MAX_BODY_BYTES, WEBHOOK_PATH
from tests.fakes.twilio_api import PUBLIC_BASE_URL, FakeTwilio
from tests.fuzz.conftest import Fuzzed, failed_on_our_side, tracebacks
from tests.fuzz.strategies import FEW, FUZZ, bodies, content_types, header_values, strings
from tests.fuzz.wire import Headers, raw_request

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORM = "application/x-www-form-urlencoded"
TEMPLATE = FakeTwilio().inbound_params(sender="+447700900123", body="where is my parcel",
                                       sid="SM0123456789abcdef0123456789abcdef",
                                       media=[("https://api.twilio.com/m/1", "image/jpeg")])
# Fields the channel reads, and values that mean something to it.
FIELDS = ["Body", "From", "MessageSid", "SmsMessageSid", "NumMedia", "MediaUrl0",
          "MediaContentType0", "MediaUrl9", "MediaContentType12", "OptOutType", "To"]
MEANINGFUL = st.sampled_from(["STOP", "stop.", "START", "yes", "HELP", "unstop!", "1", " #2 ",
                              "99", "٣", "-1", "1e3", "9" * 5000, "+447700900123", "+1",
                              "+999999999999999999", "447700900123", "+44 7700 900123",
                              "whatsapp:+447700900123", "STOP\x00", "image/", "/", ""])
QUERIES = ["", "?tenant=eu", "?a=%ff", "?a=1&a=2", "?bodySHA256=abc", "?%20=%20", "?#frag"]


@st.composite
def forms(draw: st.DrawFn) -> dict[str, str]:
    """Twilio's incoming-message form with fields removed, changed or added."""
    params = {k: v for k, v in TEMPLATE.items()
              if draw(st.booleans()) or k not in FIELDS}  # drop some fields we read
    overrides = draw(st.dictionaries(st.one_of(st.sampled_from(FIELDS), strings.filter(bool)),
                                     st.one_of(MEANINGFUL, strings), max_size=5))
    return {**params, **overrides}


TWILIO = FakeTwilio()  # only for signing, with the account's Auth Token


def signed(params: Mapping[str, str], *, path: str = WEBHOOK_PATH,
           twilio: FakeTwilio = TWILIO, url: str = PUBLIC_BASE_URL) -> Headers:
    return [(b"X-Twilio-Signature", twilio.sign(url + path, params).encode()),
            (b"Content-Type", FORM.encode())]


async def post(fuzzed: Fuzzed, body: bytes, headers: Headers,
               path: str | bytes = WEBHOOK_PATH) -> int:
    return (await raw_request(fuzzed.url, path, headers=headers, body=body)).status


@FUZZ
@given(params=forms(), query=st.sampled_from(QUERIES))
async def test_a_signed_form_with_any_fields_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, params: dict[str, str],
        query: str) -> None:
    seen = len(quiet_caplog.records)
    path = WEBHOOK_PATH + query
    status = await post(fuzzed, urlencode(params).encode(), signed(params, path=path), path)
    await fuzzed.settle()
    assert not failed_on_our_side(status)
    assert tracebacks(quiet_caplog.records[seen:]) == []


@FUZZ
@given(body=st.one_of(bodies, st.sampled_from([b"Body=%ff", b"Body=%", b"a=%e9t%e9", b"=&=&",
                                               b"Body=" + b"%00" * 100, b"&" * 500])),
       content_type=st.one_of(st.just(FORM), content_types), signature=header_values)
async def test_a_body_that_is_no_utf8_form_is_a_client_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, body: bytes,
        content_type: str | None, signature: bytes) -> None:
    headers = [(b"X-Twilio-Signature", signature)]
    if content_type is not None:
        headers.append((b"Content-Type", content_type.encode()))
    status = await post(fuzzed, body, headers)
    assert status in (400, 403, 413, 415)
    assert tracebacks(quiet_caplog.records) == []


FORGERIES = {
    "no signature header": lambda params: [(b"Content-Type", FORM.encode())],
    "signed with another auth token": lambda params: signed(
        params, twilio=FakeTwilio(auth_token="someone-elses-token")),
    "signed for another host": lambda params: signed(params, url="https://attacker.example"),
    "signed before the body changed": lambda params: signed({**params, "Body": "changed"}),
}


@FEW
@pytest.mark.parametrize("forgery", list(FORGERIES), ids=list(FORGERIES))
@given(params=forms())
async def test_an_unsigned_form_reaches_nothing(fuzzed: Fuzzed,
                                                quiet_caplog: pytest.LogCaptureFixture,
                                                forgery: str, params: dict[str, str]) -> None:
    await fuzzed.settle()
    before = len(fuzzed.intake.messages), len(fuzzed.rasa.received)
    params = {**params, "Body": params.get("Body", "") + "!"}  # so "body changed" changes it
    status = await post(fuzzed, urlencode(params).encode(), FORGERIES[forgery](params))
    assert status in (403, 413)
    await fuzzed.nothing_got_in(intake_before=before[0], rasa_before=before[1])
    assert tracebacks(quiet_caplog.records) == []


# (Raw bytes over 0x7F in the request line are refused by aiohttp's HTTP parser before any
# handler runs; percent-encoded they reach the signature check.)
PATHS = [WEBHOOK_PATH + q for q in ("", "?x=%ff", "?%ed%a0%80", "?%ff=1", "?x=" + "a" * 4000,
                                    "?x=%c3%28", "?x=%00", "?" + "&" * 300)]


@FUZZ
@given(params=forms(), signature=header_values, path=st.sampled_from(PATHS))
async def test_a_garbage_signature_or_url_reaches_nothing(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, params: dict[str, str],
        signature: bytes, path: str) -> None:
    await fuzzed.settle()
    before = len(fuzzed.intake.messages), len(fuzzed.rasa.received)
    headers = [(b"X-Twilio-Signature", signature), (b"Content-Type", FORM.encode())]
    assert await post(fuzzed, urlencode(params).encode(), headers, path) in (400, 403, 413)
    await fuzzed.nothing_got_in(intake_before=before[0], rasa_before=before[1])
    assert tracebacks(quiet_caplog.records) == []


@pytest.mark.parametrize("sign", [True, False], ids=["signed", "unsigned"])
async def test_a_form_over_the_cap_is_refused_unread(fuzzed: Fuzzed, sign: bool) -> None:
    params = {**TEMPLATE, "Body": "x" * MAX_BODY_BYTES}
    headers = signed(params) if sign else [(b"X-Twilio-Signature", b"x"),
                                          (b"Content-Type", FORM.encode())]
    assert await post(fuzzed, urlencode(params).encode(), headers) == 413
