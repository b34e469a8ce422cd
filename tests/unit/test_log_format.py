"""Log lines as JSON (LOG_FORMAT=json) or text, each with the masked conversation and the case
it is about, and redacted like every other line."""

from __future__ import annotations

import io
import json
import logging
from typing import Iterator

import pytest

from bot import log_format
from bot.log_format import about, configure
from bot.log_redaction import install, uninstall


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    install()
    yield stream
    uninstall()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_the_conversation_and_case(captured: io.StringIO) -> None:
    configure("gateway", env={"LOG_FORMAT": "json"}, stream=captured)
    with about(conversation_id="sms:+15551234567", case_id="C-0A1B2C3D"):
        logging.getLogger("bot.cases").warning("case reassigned to %s", "jo@example.com")
    (line,) = captured.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["process"] == "gateway" and entry["level"] == "warning"
    assert entry["conversation"] == "sms:***4567" and entry["case_id"] == "C-0A1B2C3D"
    assert "jo@example.com" not in line and entry["message"].startswith("case reassigned to j")


def test_outside_a_conversation_there_is_no_id(captured: io.StringIO) -> None:
    configure("gateway", env={"LOG_FORMAT": "json"}, stream=captured)
    logging.getLogger("bot.app").info("started")
    assert "conversation" not in json.loads(captured.getvalue())


def test_text_is_the_default_and_names_the_conversation(captured: io.StringIO) -> None:
    configure("actions", env={}, stream=captured)
    with about(conversation_id="web:abcdef123456"):
        logging.getLogger("actions").info("order looked up")
    line = captured.getvalue().strip()
    assert " actions INFO actions: order looked up [conversation=web:***3456]" in line


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(SystemExit, match="LOG_FORMAT"):
        log_format.log_format({"LOG_FORMAT": "xml"})
