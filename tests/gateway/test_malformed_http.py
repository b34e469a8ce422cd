"""A request that is not valid HTTP is answered 400 before any handler runs, and logged as one
warning line: never a traceback anyone can multiply by sending garbage."""

from __future__ import annotations

import logging

import pytest

from tests.fuzz.wire import raw_request
from tests.gateway.conftest import Gateway


@pytest.mark.parametrize("path, headers", [
    ("/webchat/ws", [(b"X-Anything", b"a\x01b")]),
    ("/" + "a" * 9000, []),
    ("/slack/events", [(b"Content-Type", b"application/json\x00")]),
])
async def test_malformed_http_is_a_400_without_a_traceback(
        gateway: Gateway, caplog: pytest.LogCaptureFixture, path: str,
        headers: list[tuple[bytes, bytes]]) -> None:
    answer = await raw_request(gateway.url, path, method="GET", headers=headers)
    assert answer.status == 400
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
