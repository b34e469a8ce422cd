"""Redaction for every log line of a process, library loggers included.

`install()` replaces the log record factory, so each record is redacted once when it is made,
whoever made it (slack-bolt logging a refused body, Rasa logging an action server's error
response with a whole tracker in it, twilio logging its requests) and however the handlers are
configured later (Rasa reconfigures logging at start-up; the factory stays). The message is
rendered, redacted with the project's one redaction component (bot/redaction.py: card numbers,
passwords, one-time codes removed; e-mails and phone numbers masked) and capped, so a 512 KB body
cannot grow the log by 512 KB; a traceback is rendered, redacted and capped the same way.
Python warnings are routed into logging too (Rasa reports some parse problems as warnings).

Every process of the assistant calls it first: the gateway, the action server, the Rasa server
(bot/rasa_server.py) and the demo backend."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from bot.redaction import redact

MAX_MESSAGE_CHARS = 2000
MAX_TRACEBACK_CHARS = 8000
# Libraries that log every request they make, with phone numbers and URLs that carry tokens.
QUIET_LIBRARIES = {"twilio": logging.WARNING, "twilio.http_client": logging.WARNING,
                   "httpx": logging.WARNING, "httpcore": logging.WARNING,
                   "slack_bolt": logging.WARNING, "slack_sdk": logging.WARNING}

_installed = False


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters not logged]"


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Redact and cap one record in place (also used directly by tests)."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: log what we have rather than nothing
        message = f"{record.msg!r} {record.args!r}"
    record.msg = clip(redact(str(message)), MAX_MESSAGE_CHARS)
    record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        rendered = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = clip(redact(rendered), MAX_TRACEBACK_CHARS)
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = clip(redact(record.exc_text), MAX_TRACEBACK_CHARS)
    if record.stack_info:
        record.stack_info = clip(redact(record.stack_info), MAX_TRACEBACK_CHARS)
    return record


def install() -> None:
    """Idempotent: safe to call from every entry point and from modules Rasa loads."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(make_record(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    logging.captureWarnings(True)
    for name, level in QUIET_LIBRARIES.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)
