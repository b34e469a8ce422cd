"""Serving aiohttp apps on loopback for tests and benchmarks."""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

from bot.http_logging import handler_args

Stop = Callable[[], Awaitable[None]]


async def start_app(app: web.Application) -> tuple[str, Stop]:
    """Start an app on 127.0.0.1 with an ephemeral port; returns its base URL and a stop function
    that is safe to call more than once (a test may stop a gateway before its fixture does)."""
    runner = web.AppRunner(app, access_log=None, **handler_args())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    stopped = False

    async def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            await runner.cleanup()

    return f"http://127.0.0.1:{runner.addresses[0][1]}", stop
