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
import re
import traceback
from collections.abc import Callable
from typing import Any

from bot.redaction import redact

MAX_MESSAGE_CHARS = 2000
MAX_TRACEBACK_CHARS = 8000
# Libraries that log every request they make, with phone numbers and URLs that carry tokens.
QUIET_LIBRARIES = {"twilio": logging.WARNING, "twilio.http_client": logging.WARNING,
                   "httpx": logging.WARNING, "httpcore": logging.WARNING,
                   "slack_bolt": logging.WARNING, "slack_sdk": logging.WARNING}

# What install() replaced (the record factory, the libraries' levels); None: not installed.
_previous: tuple[Callable[..., logging.LogRecord], dict[str, int]] | None = None


# Redaction runs on at most this much more than is kept: its patterns take time that grows
# with the text (faster than linearly for some inputs), and what is cut is not logged anyway.
REDACT_MARGIN_CHARS = 512
# The end of a text cut at an arbitrary point: a split card number, phone number, e-mail or
# password that the patterns would no longer recognise, so it is dropped rather than redacted.
_SPLIT_TAIL = re.compile(r"[\d ().+-]{0,40}\S{0,320}\Z")


def clip(text: str, limit: int, *, total: int | None = None) -> str:
    total = len(text) if total is None else total
    if total <= limit:
        return text
    return f"{text[:limit]}… [{total - limit} more characters not logged]"


def redact_capped(text: str, limit: int) -> str:
    """`text` redacted and clipped to `limit` characters, in time bounded by `limit`: a
    512 KB message costs what a 2 KB one does."""
    if len(text) <= limit + REDACT_MARGIN_CHARS:
        return clip(redact(text), limit)
    head = text[:limit + REDACT_MARGIN_CHARS]
    head = head[:_SPLIT_TAIL.search(head, len(head) - 400).start()]
    return clip(redact(head), limit, total=len(text))


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Redact and cap one record in place (also used directly by tests)."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string: log what we have, not nothing
        message = f"{record.msg!r} {record.args!r}"
    record.msg = redact_capped(str(message), MAX_MESSAGE_CHARS)
    record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        rendered = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = redact_capped(rendered, MAX_TRACEBACK_CHARS)
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact_capped(record.exc_text, MAX_TRACEBACK_CHARS)
    if record.stack_info:
        record.stack_info = redact_capped(record.stack_info, MAX_TRACEBACK_CHARS)
    return record


def install() -> None:
    """Idempotent: safe to call from every entry point and from modules Rasa loads."""
    global _previous
    if _previous is not None:
        return
    make_record = logging.getLogRecordFactory()
    _previous = (make_record, {name: logging.getLogger(name).level for name in QUIET_LIBRARIES})

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(make_record(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    logging.captureWarnings(True)
    for name, level in QUIET_LIBRARIES.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)


def uninstall() -> None:
    """Undo install(): the previous record factory, warnings printed again, the libraries'
    levels back. For tests, so that one module's redaction does not reach the next."""
    global _previous
    if _previous is None:
        return
    make_record, levels = _previous
    logging.setLogRecordFactory(make_record)
    logging.captureWarnings(False)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    _previous = None
