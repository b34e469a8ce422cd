"""Whatever Rasa answers (long, empty or odd text, many buttons with odd titles and long
payloads, images), each platform channel renders it into sends the platform accepts: the fakes
refuse what Slack, Telegram and Twilio refuse (see their docstrings), and no send to them is
refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.telegram import SECRET_HEADER
from tests.fakes.slack_api import SIGNING_SECRET, TEAM, dm
from tests.fakes.twilio_api import PUBLIC_BASE_URL, FakeTwilio
from tests.fuzz.conftest import TELEGRAM_SECRET, Fuzzed, tracebacks
from tests.fuzz.strategies import FEW, odd_text
from tests.fuzz.wire import raw_request

pytestmark = pytest.mark.asyncio(loop_scope="module")

long_text = st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "é ", "\U0001f600", "word. "]),
                      st.integers(min_value=1, max_value=9_000))
texts = st.one_of(st.just(""), st.just("  \n "), odd_text, long_text)
buttons = st.lists(st.fixed_dictionaries({
    "title": st.one_of(st.just(""), odd_text, st.text(min_size=70, max_size=120)),
    "payload": st.one_of(st.just("/order_status"), odd_text.filter(str.strip),
                         st.text(min_size=60, max_size=3000)),
}), max_size=30)
replies = st.lists(st.fixed_dictionaries(
    {"text": texts},
    optional={"buttons": buttons, "image": st.just("https://cdn.example.com/parcel.png")}),
    min_size=1, max_size=3)

Say = Callable[[Fuzzed, str], Awaitable[None]]


async def say_on_slack(fuzzed: Fuzzed, text: str) -> None:
    event = dm(text, ts=f"{time.time():.6f}")
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event": event,
                       "event_id": f"Ev{uuid.uuid4().hex[:10]}"}).encode()
    stamp = str(int(time.time())).encode()
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp + b":" + body,
                      hashlib.sha256).hexdigest()
    headers = [(b"X-Slack-Request-Timestamp", stamp), (b"X-Slack-Signature", f"v0={digest}".encode()),
               (b"Content-Type", b"application/json")]
    assert (await raw_request(fuzzed.url, "/slack/events", headers=headers, body=body)).status == 200


async def say_on_telegram(fuzzed: Fuzzed, text: str) -> None:
    update = {"update_id": int(time.time() * 1000) % 10**9, "message": {
        "message_id": int(time.time() * 1000) % 10**9, "date": int(time.time()),
        "chat": {"id": 4242, "type": "private", "first_name": "Jane"},
        "from": {"id": 4242, "is_bot": False, "first_name": "Jane"}, "text": text}}
    headers = [(SECRET_HEADER.encode(), TELEGRAM_SECRET.encode()),
               (b"Content-Type", b"application/json")]
    answer = await raw_request(fuzzed.url, "/telegram/webhook", headers=headers,
                               body=json.dumps(update).encode())
    assert answer.status == 200


async def say_on_sms(fuzzed: Fuzzed, text: str) -> None:
    params = FakeTwilio().inbound_params(sender="+447700900555", body=text,
                                         sid="SM" + uuid.uuid4().hex)
    signature = FakeTwilio().sign(PUBLIC_BASE_URL + "/sms/twilio", params)
    headers = [(b"X-Twilio-Signature", signature.encode()),
               (b"Content-Type", b"application/x-www-form-urlencoded")]
    answer = await raw_request(fuzzed.url, "/sms/twilio", headers=headers,
                               body=urlencode(params).encode())
    assert answer.status == 200


Mark = tuple[int, int]


def slack_refusals(fuzzed: Fuzzed, since: Mark) -> list[Any]:
    return [(c.method, c.result) for c in fuzzed.slack.calls[since[0]:] if not c.ok]


def telegram_refusals(fuzzed: Fuzzed, since: Mark) -> list[Any]:
    return [(c.method, str(c.params.get("text", ""))[:80]) for c in fuzzed.telegram.calls[since[0]:]
            if c.failed]


def twilio_refusals(fuzzed: Fuzzed, since: Mark) -> list[Any]:
    """Create requests Twilio refused: the attempts since, less the messages it accepted."""
    attempts, accepted = fuzzed.twilio.attempts[since[0]:], fuzzed.twilio.sent[since[1]:]
    return [a.get("Body", "")[:80] for a in attempts[len(accepted):]]


CHANNELS: dict[str, tuple[Say, Callable[[Fuzzed], Mark], Callable[[Fuzzed, Mark], list[Any]]]] = {
    "slack": (say_on_slack, lambda f: (len(f.slack.calls), 0), slack_refusals),
    "telegram": (say_on_telegram, lambda f: (len(f.telegram.calls), 0), telegram_refusals),
    "sms": (say_on_sms, lambda f: (len(f.twilio.attempts), len(f.twilio.sent)), twilio_refusals),
}


@FEW
@pytest.mark.parametrize("channel", list(CHANNELS))
@given(answer=replies)
async def test_every_reply_is_sent_in_a_form_the_platform_accepts(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture, channel: str,
        answer: list[dict[str, Any]]) -> None:
    say, mark, refusals = CHANNELS[channel]
    fuzzed.rasa.replies = lambda text: answer
    since = mark(fuzzed)
    await say(fuzzed, f"hello {uuid.uuid4().hex[:6]}")
    await fuzzed.settle()
    assert refusals(fuzzed, since) == []
    assert tracebacks(quiet_caplog.records) == []


# --- regressions: what the fuzz found ---------------------------------------------------------
async def test_a_slack_button_without_a_title_shows_its_payload(
        fuzzed: Fuzzed, quiet_caplog: pytest.LogCaptureFixture) -> None:
    # Slack refuses a button with empty text (invalid_blocks), and the whole reply with it.
    fuzzed.rasa.replies = lambda text: [{"text": "", "buttons": [
        {"title": "", "payload": "/order_status"}]}]
    since = len(fuzzed.slack.calls)
    await say_on_slack(fuzzed, "hello")
    await fuzzed.settle()
    [post] = [c for c in fuzzed.slack.calls[since:] if c.method == "chat.postMessage"]
    assert post.ok, post.result
    [actions] = [b for b in post.body["blocks"] if b["type"] == "actions"]
    assert actions["elements"][0]["text"]["text"] == "/order_status"
    assert post.body["text"] == "/order_status"
