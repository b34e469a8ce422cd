"""The gateway process as `make run` starts it logs what an operator needs and nothing a client can
multiply: a request that is not valid HTTP is one warning line (no traceback), and routine
requests leave no line at all (no access log: it would carry every path and client address)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from bot.stack import Stack
from tests.fuzz.wire import raw_request

pytestmark = pytest.mark.integration


def gateway_log(stack: Stack) -> Path:
    return stack.state_dir / "logs" / "gateway.log"


async def new_lines(stack: Stack, before: int) -> list[str]:
    await asyncio.sleep(0.5)  # the process flushes its log line by line; give it a moment
    return gateway_log(stack).read_text(errors="replace").splitlines()[before:]


def line_count(stack: Stack) -> int:
    return len(gateway_log(stack).read_text(errors="replace").splitlines())


async def test_malformed_http_is_one_warning_line_without_a_traceback(stack: Stack) -> None:
    before = line_count(stack)
    answer = await raw_request(stack.gateway_url, "/webchat/ws", method="GET",
                               headers=[(b"X-Anything", b"a\x01b")])
    assert answer.status == 400
    lines = await new_lines(stack, before)
    # Other tests' conversations may log meanwhile: only the server's own lines count.
    server_lines = [line for line in lines if "aiohttp" in line or line.startswith(" ")]
    assert len(server_lines) == 1, lines
    assert " WARNING aiohttp.server: " in server_lines[0]
    assert not any("Traceback" in line for line in lines), lines


async def test_routine_requests_write_no_log_line(stack: Stack) -> None:
    before = line_count(stack)
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.get(f"{stack.gateway_url}/healthz") as resp:
                assert resp.status == 200
    lines = await new_lines(stack, before)
    assert not [line for line in lines if "aiohttp" in line or "healthz" in line], lines
