"""Run the demo backend.

    python -m backends --host 127.0.0.1 --port 8081 --db var/demo-backend.db

Options fall back to DEMO_BACKEND_HOST, DEMO_BACKEND_PORT and DEMO_BACKEND_DB. The API token is
read only from BACKEND_API_TOKEN, because command-line arguments are visible to every user in
process listings; it is required (the backend answers order lookups), unless --no-auth says an
open API is really wanted (local experiments only).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Sequence

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from yarl import URL

from backends.demo_service import create_app
from bot.log_format import configure as configure_logging
from bot.log_redaction import install as install_log_redaction

logger = logging.getLogger("backends")


class _PathOnlyAccessLogger(AbstractAccessLogger):
    # Query strings carry customers' emails and phone numbers; keep them out of the logs.
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s -> %s in %.1f ms", request.method, request.path, response.status, time * 1000
        )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m backends",
        description="Demo orders + identity backend for the helpdesk assistant.",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("DEMO_BACKEND_HOST", "127.0.0.1"),
        help="interface to bind (env DEMO_BACKEND_HOST, default %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        # argparse runs string defaults through `type`, so a bad env value is reported nicely.
        default=os.environ.get("DEMO_BACKEND_PORT", "8081"),
        help="TCP port, 0 for any free port (env DEMO_BACKEND_PORT, default %(default)s)",
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("DEMO_BACKEND_DB", "var/demo-backend.db"),
        help="SQLite file, created and seeded if missing (env DEMO_BACKEND_DB, "
        "default %(default)s)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without BACKEND_API_TOKEN (local experiments only: anyone who reaches the "
        "port can look orders up)",
    )
    return parser.parse_args(argv)


async def _serve(host: str, port: int, db_path: str, api_token: str | None) -> None:
    runner = web.AppRunner(
        create_app(db_path=db_path, api_token=api_token),
        access_log_class=_PathOnlyAccessLogger,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        # Read back the bound address so that --port 0 logs the port actually chosen.
        bound_host, bound_port = runner.addresses[0][:2]
        url = URL.build(scheme="http", host=bound_host, port=bound_port)
        logger.info(
            "Demo backend listening on %s (db %s, bearer auth %s)",
            url,
            db_path,
            "on" if api_token else "off",
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    install_log_redaction()
    configure_logging("backend")
    api_token = os.environ.get("BACKEND_API_TOKEN", "").strip() or None
    if api_token is None and not args.no_auth:
        logger.error("BACKEND_API_TOKEN is not set: refusing to serve orders without a token "
                     "(pass --no-auth for an open local experiment)")
        raise SystemExit(2)
    asyncio.run(_serve(args.host, args.port, args.db, api_token))


if __name__ == "__main__":
    main()
