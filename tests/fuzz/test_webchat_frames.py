"""The web chat websocket under fuzz: every frame a tab sends, before or after its hello, gets an
answer (an error frame for what cannot be read), the socket stays open and still works
afterwards, nothing but a hello'd session reaches the engine, and nothing logs a traceback."""

from __future__ import annotations

import json
import uuid
from typing import Any, AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from bot.safe_json import BadJson, loads
from channels.webchat import MAX_FRAME_BYTES, READ_LIMIT_BYTES
from tests.fuzz.conftest import Fuzzed, tracebacks
from tests.fuzz.strategies import FUZZ, almost_json, bodies, deep_json, huge_text, payloads

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEMPLATES = [{"type": "message", "id": "m-1", "text": "where is my parcel"},
             {"type": "button", "id": "b-1", "title": "Track my order",
              "payload": "/order_status"},
             {"type": "hello", "session": None}]


def as_frame(raw: bytes) -> str | bytes:
    """Text when the bytes are UTF-8 (a text frame), else the bytes (a binary frame)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def readable(frame: str | bytes) -> bool:
    """Whether the socket reads the frame at all (over READ_LIMIT_BYTES it fails with 1009)."""
    return len(frame if isinstance(frame, bytes) else frame.encode()) <= READ_LIMIT_BYTES


frames = st.one_of(
    st.one_of(*(payloads(t) for t in TEMPLATES)).map(json.dumps),
    st.one_of(bodies, almost_json, deep_json).map(as_frame),
    huge_text.map(lambda text: json.dumps({"type": "message", "id": "m-2", "text": text})),
).filter(readable)


class Tab:
    """One browser tab's socket: frames sent, frames read until a kind arrives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def read_until(self, kind: str) -> list[dict[str, Any]]:
        """Frames up to and including the first of `kind`; fails if the socket closes first."""
        seen: list[dict[str, Any]] = []
        while True:
            message = await self.ws.receive(timeout=10)
            assert message.type == aiohttp.WSMsgType.TEXT, (message.type, message.data, seen)
            seen.append(json.loads(message.data))
            if seen[-1]["type"] == kind:
                return seen

    async def hello(self, session: str | None = None) -> str:
        await self.ws.send_json({"type": "hello", "session": session})
        return str((await self.read_until("session"))[-1]["session"])

    async def answers(self) -> list[dict[str, Any]]:
        """Everything the socket sent in answer to the frames so far: frames are handled in
        order, so they are the ones that came before the answer to a probe sent now."""
        probe = f"probe-{uuid.uuid4().hex}"
        await self.ws.send_json({"type": probe})
        seen = await self.read_until("error")
        while probe not in seen[-1]["text"]:
            seen += await self.read_until("error")
        return seen[:-1]


@pytest_asyncio.fixture(loop_scope="module")
async def open_tab(fuzzed: Fuzzed) -> AsyncIterator[Any]:
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def open_() -> Tab:
        ws = await fuzzed.http.ws_connect(f"{fuzzed.url}/webchat/ws")
        sockets.append(ws)
        return Tab(ws)

    yield open_
    for ws in sockets:
        await ws.close()


def is_hello(frame: str | bytes) -> bool:
    try:
        data = loads(frame)
    except BadJson:
        return False
    return isinstance(data, dict) and data.get("type") == "hello"


@FUZZ
@given(frame=frames.filter(lambda f: not is_hello(f)))
async def test_a_frame_before_hello_is_refused_and_reaches_nothing(
        fuzzed: Fuzzed, open_tab: Any, quiet_caplog: pytest.LogCaptureFixture,
        frame: str | bytes) -> None:
    before = len(fuzzed.intake.messages)
    tab = await open_tab()
    await tab.send(frame)
    [answer] = await tab.read_until("error")
    assert answer["code"] in ("no_session", "bad_frame", "unsupported", "too_large")
    await tab.hello()  # and the socket still works
    assert fuzzed.intake.messages[before:] == []
    assert tracebacks(quiet_caplog.records) == []
    await tab.ws.close()


@FUZZ
@given(frame=frames)
async def test_a_frame_after_hello_is_answered_and_the_socket_survives(
        fuzzed: Fuzzed, open_tab: Any, quiet_caplog: pytest.LogCaptureFixture,
        frame: str | bytes) -> None:
    seen = len(quiet_caplog.records)
    tab = await open_tab()
    session = await tab.hello()
    await tab.send(frame)
    answered = {f["type"] for f in await tab.answers()}
    assert answered & {"error", "ack", "session"}
    assert await tab.hello(session) == session  # the same session, on the same socket
    await fuzzed.settle()
    assert tracebacks(quiet_caplog.records[seen:]) == []
    await tab.ws.close()


@pytest.mark.parametrize("size", [MAX_FRAME_BYTES + 1, 2 * MAX_FRAME_BYTES],
                         ids=["just-over", "double"])
async def test_a_frame_over_the_size_limit_is_refused_and_the_socket_survives(
        fuzzed: Fuzzed, open_tab: Any, size: int) -> None:
    tab = await open_tab()
    session = await tab.hello()
    before = len(fuzzed.intake.messages)
    await tab.send(json.dumps({"type": "message", "id": "m-big", "text": "x" * size}))
    [answer] = await tab.read_until("error")
    assert answer["code"] == "too_large"
    assert await tab.hello(session) == session
    assert fuzzed.intake.messages[before:] == []


async def test_a_frame_over_the_read_limit_fails_the_connection_with_1009(
        fuzzed: Fuzzed, open_tab: Any) -> None:
    tab = await open_tab()
    await tab.hello()
    before = len(fuzzed.intake.messages)
    await tab.send(json.dumps({"type": "message", "id": "m-huge", "text": "x" * READ_LIMIT_BYTES}))
    closing = await tab.ws.receive(timeout=10)
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE,
                                            aiohttp.WSCloseCode.MESSAGE_TOO_BIG)
    assert fuzzed.intake.messages[before:] == []


async def test_a_text_frame_that_is_not_utf8_fails_the_connection_as_the_rfc_says(
        fuzzed: Fuzzed, open_tab: Any) -> None:
    # RFC 6455 section 8.1: an endpoint receiving invalid UTF-8 in a text frame MUST fail the
    # connection (close code 1007). Browsers never send one; a binary frame is the way to send
    # bytes, and it is answered (see the property tests above).
    tab = await open_tab()
    await tab.hello()
    before = len(fuzzed.intake.messages)
    await tab.ws.send_frame(b'{"type": "message", "id": "m", "text": "\xff"}', aiohttp.WSMsgType.TEXT)
    closing = await tab.ws.receive(timeout=10)
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert closing.data == aiohttp.WSCloseCode.INVALID_TEXT
    assert fuzzed.intake.messages[before:] == []
    assert await (await open_tab()).hello()  # the gateway takes the next tab as usual


# --- regressions: what the fuzz found ---------------------------------------------------------
async def test_a_message_with_a_lone_surrogate_is_refused_and_the_socket_survives(
        fuzzed: Fuzzed, open_tab: Any, quiet_caplog: pytest.LogCaptureFixture) -> None:
    # Valid JSON that is no text: the journal could not store it, and the exception dropped the
    # socket with a traceback.
    tab = await open_tab()
    session = await tab.hello()
    before = len(fuzzed.intake.messages)
    await tab.send('{"type": "message", "id": "m-s", "text": "hi \\ud800"}')
    [answer] = await tab.read_until("error")
    assert answer["code"] == "bad_frame"
    assert await tab.hello(session) == session
    assert fuzzed.intake.messages[before:] == []
    assert tracebacks(quiet_caplog.records) == []
