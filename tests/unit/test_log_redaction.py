"""bot/log_redaction.py: once installed, every log record of every logger (ours, Rasa's, the
channel libraries') is rendered, redacted and capped, tracebacks and warnings included.

install() is global and idempotent, so it runs once for this module (and is undone after it, so
other modules log as they expect); each test reads what one handler, attached to the logger
under test for that test only, formatted."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog

from bot.log_redaction import install, uninstall

ROOT = Path(__file__).resolve().parents[2]
CARD, EMAIL, PHONE = "4111 1111 1111 1111", "jane.doe@example.com", "+1 555 010 0001"
RAW = (CARD, "4111111111111111", EMAIL, "010 0001", "481516", "hunter2")
REDACTED = ("[card ****1111]", "j***@example.com", "[phone ***0001]", "code [redacted]",
            "password is [redacted]")
SECRETS = f"card {CARD} mail {EMAIL} phone {PHONE} code 481516 my password is hunter2"
LOGGERS = ["slack_bolt", "rasa.core.processor", "channels.slack.bolt", "twilio.http_client",
           f"fresh.{uuid.uuid4().hex}"]


@pytest.fixture(scope="module", autouse=True)
def redaction_installed() -> Iterator[None]:
    install()
    yield
    uninstall()


@dataclass
class Captured:
    logger: logging.Logger
    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()


def capture(name: str) -> Iterator[Captured]:
    logger = logging.getLogger(name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    yield Captured(logger, stream)
    logger.removeHandler(handler)


@pytest.fixture(params=LOGGERS)
def captured(request: pytest.FixtureRequest) -> Iterator[Captured]:
    """Each logger in turn: what redacts does not depend on who logs."""
    yield from capture(request.param)


@pytest.fixture
def fresh() -> Iterator[Captured]:
    """One logger nobody configured, for what does not vary by logger."""
    yield from capture(f"fresh.{uuid.uuid4().hex}")


def assert_redacted(text: str) -> None:
    for raw in RAW:
        assert raw not in text
    for masked in REDACTED:
        assert masked in text


# ERROR throughout: install() raises the level of noisy libraries (slack_bolt, twilio) to
# WARNING, and redaction must hold for what still gets through.
@pytest.mark.parametrize("msg, args", [
    (SECRETS, ()),
    ("card %s mail %s phone %s code %s my password is %s",
     (CARD, EMAIL, PHONE, "481516", "hunter2")),
    ("%(all)s", ({"all": SECRETS},)),
    ({"body": SECRETS}, ()),  # not even a string: rendered with str()
], ids=["text", "percent-args", "mapping-args", "object"])
def test_the_rendered_message_is_redacted(captured: Captured, msg: Any, args: tuple[Any, ...],
                                          ) -> None:
    captured.logger.error(msg, *args)
    assert_redacted(captured.text)


def test_a_bad_format_string_is_logged_redacted(fresh: Captured) -> None:
    fresh.logger.error("card %s and %s", CARD)  # noqa: PLE1206 - one argument short, on purpose
    assert CARD not in fresh.text and "[card ****1111]" in fresh.text


class PaymentDeclined(Exception):
    pass


def declined() -> None:
    raise PaymentDeclined(SECRETS)


def chained() -> None:
    try:
        declined()
    except PaymentDeclined as exc:
        raise RuntimeError(f"gateway said: {exc}") from exc


@pytest.mark.parametrize("fails", [declined, chained], ids=["exception", "chained"])
def test_exception_messages_and_tracebacks_are_redacted(captured: Captured, fails: Any) -> None:
    try:
        fails()
    except Exception:
        captured.logger.exception("payment for %s failed", EMAIL)
    assert "Traceback (most recent call last)" in captured.text
    assert "PaymentDeclined" in captured.text
    assert_redacted(captured.text)


def test_an_exception_passed_as_exc_info_is_redacted(fresh: Captured) -> None:
    try:
        declined()
    except PaymentDeclined as exc:
        error = exc
    fresh.logger.error("payment failed", exc_info=error)
    assert "PaymentDeclined" in fresh.text
    assert_redacted(fresh.text)


def test_stack_info_is_redacted(fresh: Captured) -> None:
    def deep(secret: str) -> None:
        fresh.logger.error("here %s", secret, stack_info=True)
    deep(SECRETS)
    assert "Stack (most recent call last)" in fresh.text
    assert_redacted(fresh.text)


@pytest.mark.parametrize("how", ["message", "argument", "exception"])
def test_a_512_kb_message_grows_the_log_by_about_2_kb(captured: Captured, how: str) -> None:
    body = (SECRETS + " ") * (512 * 1024 // (len(SECRETS) + 1))
    if how == "message":
        captured.logger.error(body)
        limit = 2_200
    elif how == "argument":
        captured.logger.error("refused body: %s", body)
        limit = 2_200
    else:
        try:
            raise PaymentDeclined(body)
        except PaymentDeclined:
            captured.logger.exception("failed")
        limit = 2_200 + 8_200  # the traceback has its own, larger cap
    assert len(captured.text) <= limit
    assert "more characters not logged" in captured.text
    assert CARD not in captured.text and EMAIL not in captured.text


@pytest.mark.parametrize("cut_at", range(2_490, 2_560, 4))
def test_a_secret_cut_by_the_cap_is_not_logged_in_part(fresh: Captured, cut_at: int) -> None:
    # Redaction works on the head of a long message: however that head ends, no fragment of a
    # card or e-mail passes unrecognised, even when a long password redacted before it pulls
    # the fragment back within the cap.
    padding = "password: " + "A" * 700 + " " + "x " * 900
    fresh.logger.error(f"{padding[:cut_at - 20]} {CARD} {EMAIL} " + "y " * 600_000)
    assert "4111 1" not in fresh.text and "jane.d" not in fresh.text
    assert "more characters not logged" in fresh.text


def test_redaction_time_does_not_grow_with_the_message() -> None:
    """A whitespace run after "code" makes the one-time-code pattern backtrack quadratically:
    512 KB of it would hold a worker for hours. Run apart, so a regression fails by a timeout
    instead of hanging the suite."""
    script = ("import logging, time; from bot.log_redaction import install; install(); "
              "logging.basicConfig(stream=open('/dev/null', 'w')); start = time.monotonic(); "
              "logging.getLogger('x').error('code' + ' ' * 512 * 1024); "
              "print(time.monotonic() - start)")
    done = subprocess.run([sys.executable, "-c", script], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 2.0


def test_warnings_are_logged_and_redacted() -> None:
    """In a fresh process: pytest records warnings itself, which would bypass the logging
    route under test."""
    script = ("import logging, warnings; from bot.log_redaction import install; install(); "
              "logging.basicConfig(format='%(name)s %(message)s'); "
              f"warnings.warn({SECRETS!r})")
    done = subprocess.run([sys.executable, "-c", script], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("py.warnings ")
    assert_redacted(done.stderr)


def test_structlog_events_are_redacted(captured: Captured) -> None:
    # Rasa renders its structlog events to a string and hands them to a stdlib logger.
    log = structlog.wrap_logger(captured.logger, wrapper_class=structlog.stdlib.BoundLogger,
                                processors=[structlog.processors.JSONRenderer()])
    log.error("processor.message", text=SECRETS, slots={"order_contact": EMAIL})
    assert '"event": "processor.message"' in captured.text
    assert_redacted(captured.text)


@pytest.mark.parametrize("name", ["twilio", "twilio.http_client", "httpx", "httpcore"])
def test_chatty_http_libraries_log_warnings_only(name: str) -> None:
    logger = logging.getLogger(name)
    assert logger.getEffectiveLevel() >= logging.WARNING
    assert not logger.isEnabledFor(logging.INFO)


def test_install_is_idempotent() -> None:
    factory = logging.getLogRecordFactory()
    install()
    assert logging.getLogRecordFactory() is factory  # not wrapped twice
