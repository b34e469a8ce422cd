"""aiohttp's server logs every malformed request (a control character in a header, a request line
over 8 KB, bytes that are not HTTP) at ERROR with a traceback, before any handler runs: anyone
could fill the log with tracebacks. A malformed request is the client's fault and already answered
400: it is worth one warning line, not a traceback."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger("aiohttp.server")


class ClientErrorsAsWarnings(logging.LoggerAdapter):  # type: ignore[type-arg]
    def exception(self, msg: object, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError) and 400 <= (exc_info.code or 0) < 500:
            self.logger.warning("%s: %s", msg % args if args else msg,
                                f"{type(exc_info).__name__} {exc_info.code}")
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


def handler_args() -> dict[str, Any]:
    """For web.run_app / web.AppRunner: the request handler's logger."""
    return {"logger": ClientErrorsAsWarnings(log, {})}
