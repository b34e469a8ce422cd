"""`python -m bot`: run the gateway with settings from the environment."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.app import create_app
from bot.http_logging import handler_args
from bot.log_redaction import install as install_log_redaction
from bot.settings import Settings


def main() -> None:
    install_log_redaction()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s gateway %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    # SIGTERM/SIGINT stop intake, let conversations finish the message they are on (up to
    # SHUTDOWN_GRACE_S) and keep the rest in the journal for the next start.
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None,
                access_log=None, shutdown_timeout=settings.shutdown_grace_s + 5,
                **handler_args())


if __name__ == "__main__":
    main()
