"""The action server (`python -m actions.server`, as `make run` starts it) under fuzz: with the
token, any body at POST /webhook is answered with a 2xx or a 4xx (never a 5xx, never a traceback
in its log); without the token nothing is read and no action runs (the fake backend the actions
call hears nothing)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from actions.server import MAX_BODY_BYTES
from tests.fakes.backend import FakeBackend
from tests.fuzz.strategies import FEW, FUZZ, bodies, content_types, header_values, nested, payloads
from tests.fuzz.wire import Headers, raw_request
from tests.serving import start_app

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN = "fuzz-action-server-token"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ActionServer:
    url: str
    log: Path
    backend: FakeBackend

    def __repr__(self) -> str:
        return f"ActionServer({self.url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def log_size(self) -> int:
        return self.log.stat().st_size

    def tracebacks_since(self, offset: int) -> list[str]:
        """Log lines since `offset` that start a traceback (its logging writes them whole)."""
        with self.log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
        return [line for line in text.splitlines() if line.startswith("Traceback")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ActionServer]:
    backend = FakeBackend()
    backend_url, stop_backend = await start_app(backend.app())
    port, log = free_port(), tmp_path_factory.mktemp("action-server") / "stderr.log"
    env = {**os.environ, "ACTION_SERVER_TOKEN": TOKEN, "ORDERS_API_URL": backend_url,
           "IDENTITY_API_URL": backend_url, "BACKEND_RETRIES": "1", "BACKEND_TIMEOUT_S": "1",
           "HANDOFF_SECRET": "x", "GATEWAY_HANDOFF_URL": f"http://127.0.0.1:{free_port()}/h"}
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "actions.server", "--port", str(port), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        await healthy(url, process)
        yield ActionServer(url=url, log=log, backend=backend)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
        await stop_backend()


async def healthy(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            assert process.returncode is None, "the action server exited"
            try:
                async with http.get(f"{url}/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the action server did not come up within 15 s")


def tracker(slots: dict[str, Any], *, text: str, intent: str,
            active_loop: str | None = None) -> dict[str, Any]:
    parse_data = {"intent": {"name": intent, "confidence": 0.93}, "entities": [], "text": text}
    return {"sender_id": "web:fuzz", "slots": slots, "latest_message": parse_data,
            "events": [{"event": "user", "text": text, "timestamp": 1.0,
                        "parse_data": parse_data},
                       {"event": "bot", "text": "What's your order number?", "timestamp": 2.0}],
            "paused": False, "followup_action": None,
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action_name": "action_listen", "latest_input_channel": "rest"}


DOMAIN = {"slots": {"order_id": {"type": "text"}, "order_contact": {"type": "text"},
                    "reset_login": {"type": "text"}},
          "forms": {"order_status_form": {"required_slots": ["order_id", "order_contact"]},
                    "password_reset_form": {"required_slots": ["reset_login"]}},
          "responses": {}}
ORDER = {"order_id": "482913", "order_contact": "jane.doe@example.com", "requested_slot": None}
CALLS = [
    {"next_action": action, "sender_id": "web:fuzz", "version": "3.6.21", "domain": DOMAIN,
     "tracker": tracked}
    for action, tracked in [
        ("action_order_status", tracker(ORDER, text="482913", intent="inform")),
        ("validate_order_status_form", tracker({**ORDER, "requested_slot": "order_id"},
                                               text="482913", intent="inform",
                                               active_loop="order_status_form")),
        ("action_password_reset", tracker({"reset_login": "janedoe"}, text="janedoe",
                                          intent="inform")),
        ("action_handoff_to_human", tracker({}, text="agent", intent="human_handoff")),
        ("action_start_account_deletion", tracker({}, text="delete my account",
                                                  intent="delete_account")),
        ("action_handle_fallback", tracker({}, text="???", intent="nlu_fallback")),
    ]]
calls = st.one_of(*(payloads(c) for c in CALLS)).map(lambda v: json.dumps(v).encode())


def webhook(token: str | None = TOKEN) -> str:
    return "/webhook" if token is None else f"/webhook?token={quote(token, safe='')}"


async def post(server: ActionServer, body: bytes, headers: Headers, path: str) -> int:
    return (await raw_request(server.url, path, headers=headers, body=body)).status


@FUZZ
@given(body=st.one_of(calls, calls, bodies),
       content_type=st.one_of(st.just("application/json"), content_types),
       deflate=st.sampled_from(["no", "yes", "header only"]))
async def test_an_action_call_of_any_shape_gets_no_server_error(
        server: ActionServer, body: bytes, content_type: str | None, deflate: str) -> None:
    seen = server.log_size()
    headers: Headers = [] if content_type is None else [(b"Content-Type", content_type.encode())]
    if deflate != "no":
        headers.append((b"Content-Encoding", b"deflate"))
    sent = zlib.compress(body) if deflate == "yes" else body
    status = await post(server, sent, headers, webhook())
    assert status < 500
    assert server.tracebacks_since(seen) == []


TOKENS = {
    "no token": None, "empty token": "", "another token": "not-" + TOKEN,
    "the token with a suffix": TOKEN + "\x00", "the token's prefix": TOKEN[:-1],
    "a lone surrogate": TOKEN + "\udcff",
}


@FEW
@pytest.mark.parametrize("token", list(TOKENS), ids=list(TOKENS))
@given(body=st.one_of(calls, bodies))
async def test_a_call_without_the_token_runs_no_action(server: ActionServer, token: str,
                                                       body: bytes) -> None:
    seen, called = server.log_size(), len(server.backend.calls)
    given_token = TOKENS[token]
    path = "/webhook" if given_token is None else "/webhook?token=" + quote(
        given_token.encode("utf-8", "surrogateescape"), safe="")
    assert await post(server, body, [(b"Content-Type", b"application/json")], path) == 401
    assert len(server.backend.calls) == called
    assert server.tracebacks_since(seen) == []


@FUZZ
@given(body=calls, token=header_values, where=st.sampled_from(["query", "header"]))
async def test_a_garbage_token_runs_no_action(server: ActionServer, body: bytes, token: bytes,
                                              where: str) -> None:
    seen, called = server.log_size(), len(server.backend.calls)
    path = f"/webhook?token={quote(token, safe='')}" if where == "query" else "/webhook"
    headers = [(b"Authorization", b"Bearer " + token)] if where == "header" else []
    assert await post(server, body, headers, path) == 401
    assert len(server.backend.calls) == called
    assert server.tracebacks_since(seen) == []


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflated"])
async def test_a_body_over_the_cap_is_refused(server: ActionServer, deflate: bool) -> None:
    # Through aiohttp, as Rasa sends it: Sanic answers before reading the rest and closes, and
    # a client that is still writing must read the answer it already got.
    body = b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}'
    headers = {"Content-Encoding": "deflate"} if deflate else {}
    async with aiohttp.ClientSession() as http, http.post(
            server.url + webhook(), headers=headers,
            data=zlib.compress(body) if deflate else body) as resp:
        assert resp.status == 413


async def test_a_deeply_nested_call_is_a_bad_request(server: ActionServer) -> None:
    assert await post(server, nested(10_000), [], webhook()) == 400


# --- regressions: what the fuzz found ---------------------------------------------------------
@pytest.mark.parametrize("call", [
    {k: v for k, v in CALLS[0].items() if k != "tracker"},
    {**CALLS[0], "tracker": {**CALLS[0]["tracker"], "events": [{"event": "slot"}]}},
    {**CALLS[1], "domain": {**DOMAIN, "forms": ["order_status_form"]}},
], ids=["no-tracker", "slot-event-without-name", "forms-as-a-list"])
async def test_an_action_call_rasa_sdk_cannot_read_is_a_bad_request(
        server: ActionServer, call: dict[str, Any]) -> None:
    # rasa_sdk indexed into these: a KeyError or AttributeError, a 500 with a traceback.
    seen = server.log_size()
    assert await post(server, json.dumps(call).encode(), [], webhook()) == 400
    assert server.tracebacks_since(seen) == []
