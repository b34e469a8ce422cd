"""POST /telegram/webhook under fuzz: with the registered secret token any body is answered with a
2xx or a 4xx (never a 5xx other than 503) and no traceback; without it nothing reaches the
engine or Rasa, whatever the body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.telegram import MAX_UPDATE_BYTES, SECRET_HEADER
from tests.fakes.telegram_api import BOT_ID, BOT_USERNAME
from tests.fuzz.conftest import TELEGRAM_SECRET, Fuzzed, failed_on_our_side, tracebacks
from tests.fuzz.strategies import FEW, FUZZ, bodies, content_types, header_values, nested, payloads
from tests.fuzz.wire import Headers, raw_request

pytestmark = pytest.mark.asyncio(loop_scope="module")

PATH = "/telegram/webhook"
CHAT = {"id": 4242, "type": "private", "first_name": "Jane"}
GROUP = {"id": -1001234567890, "type": "supergroup", "title": "Northwind customers"}
USER = {"id": 4242, "is_bot": False, "first_name": "Jane", "language_code": "en"}
KEYBOARD = {"inline_keyboard": [[{"text": "Track my order", "callback_data": "/order_status"}]]}


def update(**content: Any) -> dict[str, Any]:
    return {"update_id": 500_001, **content}


UPDATES = [
    update(message={"message_id": 1, "date": 1710000000, "chat": CHAT, "from": USER,
                    "text": "where is my parcel"}),
    update(message={"message_id": 2, "date": 1710000000, "chat": GROUP, "from": USER,
                    "text": f"/help@{BOT_USERNAME} hi @{BOT_USERNAME}",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 24},
                                 {"type": "mention", "offset": 28, "length": 19}],
                    "reply_to_message": {"message_id": 1, "date": 1710000000, "chat": GROUP,
                                         "from": {"id": BOT_ID, "is_bot": True,
                                                  "first_name": "Bot"}, "text": "?"}}),
    update(message={"message_id": 3, "date": 1710000000, "chat": CHAT, "from": USER,
                    "caption": "receipt",
                    "photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 9,
                               "height": 9}]}),
    update(callback_query={"id": "9000000000001", "chat_instance": "ci-1", "from": USER,
                           "data": "/order_status",
                           "message": {"message_id": 77, "date": 1710000000, "chat": CHAT,
                                       "from": {"id": BOT_ID, "is_bot": True,
                                                "first_name": "Bot"},
                                       "text": "Pick one", "reply_markup": KEYBOARD}}),
]

updates = st.one_of(*(payloads(u) for u in UPDATES)).map(lambda v: json.dumps(v).encode())


async def post(fuzzed: Fuzzed, body: bytes, headers: Headers) -> int:
    return (await raw_request(fuzzed.url, PATH, headers=headers, body=body)).status


def with_secret(content_type: str | None = "application/json") -> Headers:
    headers: Headers = [(SECRET_HEADER.encode(), TELEGRAM_SECRET.encode())]
    return headers if content_type is None else [*headers, (b"Content-Type", content_type.encode())]


@FUZZ
@given(body=st.one_of(updates, updates, bodies),
       content_type=st.one_of(st.just("application/json"), content_types))
async def test_an_update_with_the_secret_gets_no_server_error(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, body: bytes,
        content_type: str | None) -> None:
    seen = len(quiet_caplog.records)
    status = await post(fuzzed, body, with_secret(content_type))
    await fuzzed.settle()
    assert not failed_on_our_side(status)
    assert tracebacks(quiet_caplog.records[seen:]) == []


FORGED = {
    "no secret header": [],
    "empty secret": [(SECRET_HEADER.encode(), b"")],
    "another secret": [(SECRET_HEADER.encode(), b"not-" + TELEGRAM_SECRET.encode())],
    "the secret with a suffix": [(SECRET_HEADER.encode(), TELEGRAM_SECRET.encode() + b"\xff")],
}


@FEW
@pytest.mark.parametrize("forgery", list(FORGED), ids=list(FORGED))
@given(body=st.one_of(updates, bodies))
async def test_an_update_without_the_secret_reaches_nothing(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, forgery: str,
        body: bytes) -> None:
    await fuzzed.settle()
    before = len(fuzzed.intake.messages), len(fuzzed.rasa.received)
    status = await post(fuzzed, body, FORGED[forgery])
    assert status in (401, 403)
    await fuzzed.nothing_got_in(intake_before=before[0], rasa_before=before[1])
    assert tracebacks(quiet_caplog.records) == []


@FUZZ
@given(body=updates, secret=header_values)
async def test_a_garbage_secret_header_is_refused(fuzzed: Fuzzed,
                                                  quiet_caplog: pytest.LogCaptureFixture,
                                                  body: bytes, secret: bytes) -> None:
    await fuzzed.settle()
    before = len(fuzzed.intake.messages), len(fuzzed.rasa.received)
    assert await post(fuzzed, body, [(SECRET_HEADER.encode(), secret)]) in (401, 403)
    await fuzzed.nothing_got_in(intake_before=before[0], rasa_before=before[1])
    assert tracebacks(quiet_caplog.records) == []


async def test_an_update_over_the_cap_is_refused_unread(fuzzed: Fuzzed) -> None:
    body = b'{"update_id": 1, "x": "' + b"x" * MAX_UPDATE_BYTES + b'"}'
    assert await post(fuzzed, body, with_secret()) == 413


@pytest.mark.parametrize("depth", [33, 10_000], ids=["just-too-deep", "10k-levels"])
async def test_a_deeply_nested_update_is_a_bad_request(fuzzed: Fuzzed, depth: int) -> None:
    assert await post(fuzzed, nested(depth), with_secret()) == 400


# --- regressions: what the fuzz found (each was a 500 with a traceback) -------------------------
REGRESSIONS = {
    # PTB parses a message without a chat; the handler then read message.chat.type
    "a message without a chat": {**UPDATES[0], "message": {
        k: v for k, v in UPDATES[0]["message"].items() if k != "chat"}},
    # a timestamp past the year 9999: PTB raises OverflowError, which nothing caught
    "an edit date in the year 10000": {**UPDATES[0], "message": {
        **UPDATES[0]["message"], "edit_date": 10**20}},
    "text that is not a string": {**UPDATES[0], "message": {**UPDATES[0]["message"],
                                                           "text": ["hi"]}},
}


@pytest.mark.parametrize("case", list(REGRESSIONS), ids=list(REGRESSIONS))
async def test_an_update_the_channel_cannot_read_is_a_bad_request(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, case: str) -> None:
    assert await post(fuzzed, json.dumps(REGRESSIONS[case]).encode(), with_secret()) == 400
    assert tracebacks(quiet_caplog.records) == []


async def test_a_secret_header_that_is_not_utf8_is_refused(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture) -> None:
    # aiohttp decodes it with surrogates; encoding it back for the comparison raised.
    headers = [(SECRET_HEADER.encode(), TELEGRAM_SECRET.encode() + b"\xff")]
    assert await post(fuzzed, json.dumps(UPDATES[0]).encode(), headers) == 403
    assert tracebacks(quiet_caplog.records) == []
