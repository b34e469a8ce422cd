"""A failed publish makes Rasa's pika broker log the event it could not publish (structlog,
`rasa_event=`): with the project's filter installed no event body reaches the log."""

from __future__ import annotations

import logging

import pytest
import structlog

from bot.rasa_server import NOT_LOGGED, install_event_body_filter


@pytest.fixture
def configured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    import rasa.utils.log_utils as log_utils

    original = log_utils._anonymizer
    install_event_body_filter()
    log_utils.configure_structlog(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    log_utils._anonymizer = original
    structlog.reset_defaults()


def test_a_failed_publish_logs_no_event_body(configured: pytest.LogCaptureFixture) -> None:
    structlog.get_logger().error("pika.events.publish.failed", host="127.0.0.1",
                                 rasa_event={"event": "user", "text": "my secret parcel story"})
    logged = "\n".join(r.getMessage() for r in configured.records)
    assert "pika.events.publish.failed" in logged
    assert "my secret parcel story" not in logged and NOT_LOGGED in logged


def test_installing_twice_wraps_once() -> None:
    import rasa.utils.log_utils as log_utils

    original = log_utils._anonymizer
    try:
        install_event_body_filter()
        once = log_utils._anonymizer
        install_event_body_filter()
        assert log_utils._anonymizer is once
    finally:
        log_utils._anonymizer = original
