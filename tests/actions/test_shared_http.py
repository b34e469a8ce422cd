"""While the action server runs, its backend calls share one HTTP session: a second call reuses
the first one's connection instead of opening another (and, against a real backend, another
TLS handshake)."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from actions.clients import SHARED_HTTP, identity_client, orders_client, settings
from actions.orders_client import OrderNotFound
from tests.fakes.backend import FakeBackend


@pytest.fixture
async def shared() -> AsyncIterator[None]:
    await SHARED_HTTP.open()  # what actions/server.py does before the server starts
    yield
    await SHARED_HTTP.close()


async def lookups(times: int) -> None:
    for _ in range(times):
        order = await orders_client(settings()).lookup(order_id="482913",
                                                       contact="jane.doe@example.com")
        assert order.status


async def test_calls_reuse_one_connection_while_the_server_runs(backend: FakeBackend,
                                                                shared: None) -> None:
    await lookups(3)
    assert len(backend.peers) == 3 and len(set(backend.peers)) == 1


async def test_a_call_that_must_not_be_repeated_gets_a_fresh_connection(
        backend: FakeBackend, shared: None) -> None:
    """A kept-alive connection the backend has just closed fails, and such a call (a password
    reset e-mail) is never retried: it goes out on a connection of its own."""
    for _ in range(2):
        await identity_client(settings()).request_password_reset(login="jane.doe@example.com")
    assert len(backend.peers) == 2 and len(set(backend.peers)) == 2


async def test_without_the_servers_session_each_call_has_its_own(backend: FakeBackend) -> None:
    await lookups(2)
    assert len(set(backend.peers)) == 2


async def test_a_refusal_on_the_shared_session_is_still_the_typed_error(backend: FakeBackend,
                                                                      shared: None) -> None:
    with pytest.raises(OrderNotFound):
        await orders_client(settings()).lookup(order_id="999999", contact="x@example.com")
