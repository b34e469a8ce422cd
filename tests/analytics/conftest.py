from __future__ import annotations

from typing import Iterator

import pytest

from tests.rabbit_server import RabbitServer


@pytest.fixture(scope="module")
def rabbit() -> Iterator[RabbitServer]:
    """A RabbitMQ node of this module's own (tests stop and start it)."""
    server = RabbitServer()
    server.start()
    yield server
    server.remove()
