"""How every process of the assistant writes its log: human-readable lines (the default, for
development) or one JSON object per line (LOG_FORMAT=json, for production log pipelines), each
with the conversation and case the line is about when there is one.

The ids come from context variables the gateway sets while it works on a conversation or a case
(`about`), already masked (bot/redaction.py mask_id): a log line never carries a phone number.
Messages are redacted by the record factory (bot/log_redaction.py) before any formatter runs."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from enum import StrEnum
from typing import Iterator, Mapping, TextIO

from bot.redaction import mask_id

_conversation: contextvars.ContextVar[str | None] = contextvars.ContextVar("conversation",
                                                                           default=None)
_case: contextvars.ContextVar[str | None] = contextvars.ContextVar("case", default=None)


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@contextmanager
def about(*, conversation_id: str | None = None, case_id: str | None = None) -> Iterator[None]:
    """Log lines written inside are about this conversation and/or case."""
    tokens = []
    if conversation_id is not None:
        tokens.append((_conversation, _conversation.set(mask_id(conversation_id))))
    if case_id is not None:
        tokens.append((_case, _case.set(case_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = _conversation.get()
        record.case_id = _case.get()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": round(record.created, 3),
                 "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                 "level": record.levelname.lower(), "process": self._process,
                 "logger": record.name, "message": record.getMessage()}
        for key in ("conversation", "case_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_text or record.exc_info:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__(f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        about = " ".join(f"{k}={v}" for k in ("conversation", "case_id")
                         if (v := getattr(record, k, None)))
        return f"{line} [{about}]" if about else line


def log_format(env: Mapping[str, str]) -> LogFormat:
    value = (env.get("LOG_FORMAT") or LogFormat.TEXT).strip().lower()
    try:
        return LogFormat(value)
    except ValueError:
        raise SystemExit(f"LOG_FORMAT must be text or json, got {value!r}") from None


def configure(process: str, *, level: int = logging.INFO, env: Mapping[str, str] | None = None,
              stream: TextIO | None = None) -> None:
    """The root logger writes to `stream` (stderr) in the configured format, replacing its
    handlers."""
    chosen = log_format(os.environ if env is None else env)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_Context())
    handler.setFormatter(JsonFormatter(process) if chosen is LogFormat.JSON
                         else TextFormatter(process))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
