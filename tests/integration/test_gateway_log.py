"""The gateway process as `make run` starts it logs what an operator needs and nothing a client can
multiply: a request that is not valid HTTP is one warning line (no traceback), and routine
requests leave no line at all (no access log: it would carry every path and client address)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from bot.stack import Stack
from tests.fuzz.wire import raw_request

pytestmark = pytest.mark.integration

SERVER_WARNING = " WARNING aiohttp.server: "


def gateway_log(stack: Stack) -> Path:
    return stack.state_dir / "logs" / "gateway.log"


def lines_since(stack: Stack, before: int) -> list[str]:
    return gateway_log(stack).read_text(errors="replace").splitlines()[before:]


async def malformed_request(stack: Stack) -> None:
    answer = await raw_request(stack.gateway_url, "/webchat/ws", method="GET",
                               headers=[(b"X-Anything", b"a\x01b")])
    assert answer.status == 400


async def lines_until_warning(stack: Stack, before: int, *, timeout_s: float = 15.0) -> list[str]:
    """The lines written since `before`, once the server's warning is among them (the process
    writes its log line by line, a moment after answering)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = lines_since(stack, before)
        if any(SERVER_WARNING in line for line in lines):
            return lines
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {SERVER_WARNING.strip()} line within {timeout_s:.0f} s")


async def test_malformed_http_is_one_warning_line_without_a_traceback(stack: Stack) -> None:
    before = len(lines_since(stack, 0))
    await malformed_request(stack)
    await lines_until_warning(stack, before)
    await asyncio.sleep(0.5)  # a traceback would follow its warning line at once
    lines = lines_since(stack, before)
    # Other tests' conversations may log meanwhile: only the server's own lines count.
    server_lines = [line for line in lines if "aiohttp" in line or line.startswith(" ")]
    assert len(server_lines) == 1, lines
    assert SERVER_WARNING in server_lines[0]
    assert not any("Traceback" in line for line in lines), lines


async def test_routine_requests_write_no_log_line(stack: Stack) -> None:
    before = len(lines_since(stack, 0))
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.get(f"{stack.gateway_url}/healthz") as resp:
                assert resp.status == 200
    # A marker: once its warning is written, any line about the requests before it would be too.
    await malformed_request(stack)
    lines = await lines_until_warning(stack, before)
    marker = next(i for i, line in enumerate(lines) if SERVER_WARNING in line)
    assert not [line for line in lines[:marker] if "aiohttp" in line or "healthz" in line], lines
