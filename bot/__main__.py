"""`python -m bot`: run the gateway with settings from the environment."""

from __future__ import annotations

import gc

from aiohttp import web

from bot.app import create_app
from bot.http_logging import handler_args
from bot.log_format import configure as configure_logging
from bot.log_redaction import install as install_log_redaction
from bot.settings import Settings


def main() -> None:
    install_log_redaction()
    configure_logging("gateway")
    settings = Settings.from_env()
    # SIGTERM/SIGINT stop intake, let conversations finish the message they are on (up to
    # SHUTDOWN_GRACE_S) and keep the rest in the journal for the next start.
    app = create_app(settings)
    app.on_startup.append(_freeze_startup_heap)  # after the app's own start-up (cleanup_ctx)
    web.run_app(app, host=settings.host, port=settings.port, print=None,
                access_log=None, shutdown_timeout=settings.shutdown_grace_s + 5,
                **handler_args())


async def _freeze_startup_heap(app: web.Application) -> None:
    """Everything loaded at start-up (the platform libraries of every channel: their facts are
    read even when they are off) stays for the process's life: moved out of the collector's
    way, so a full collection in a burst of webhooks no longer walks it (a 100 ms stall of the
    event loop, every acknowledgement in flight waiting, in `benchmarks.webhook_ack`)."""
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    main()
