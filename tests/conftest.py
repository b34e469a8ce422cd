"""Fixtures shared by every test folder: aiohttp apps on loopback, a client session, a fake Rasa,
and the real Redis."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from tests.fakes.rasa import FakeRasa
from tests.redis_server import RedisServer
from tests.serving import Stop, start_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# pyproject's timeout (a hang fails with its stack instead of stalling CI) is short; tests that
# may train the model or start the real stack in their set-up get this much instead.
SLOW_SETUP_TIMEOUT_S = 900
SLOW_SETUP_DIRS = ("tests/integration/", "tests/nlu/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW_SETUP_DIRS):
            item.add_marker(pytest.mark.timeout(SLOW_SETUP_TIMEOUT_S))

@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database (the URL selects it by search_path), dropped after."""
    import sqlalchemy as sa

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, future=True)
    try:
        with admin.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:  # the suite needs the real server; say so
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc} "
                    "(make test-deps starts it)")
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start apps on 127.0.0.1 with an ephemeral port; returns their base URL."""
    stops: list[Stop] = []

    async def start(app: web.Application) -> str:
        url, stop = await start_app(app)
        stops.append(stop)
        return url

    yield start
    for stop in reversed(stops):
        await stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def fake_rasa(serve: Serve) -> tuple[FakeRasa, str]:
    """A fake Rasa and its URL (folders whose tests need a different fake override this)."""
    fake = FakeRasa()
    return fake, await serve(fake.app())


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A unique key prefix on the real Redis, removed after the test."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # the suite needs the real server; say so instead of skipping
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc} (make test-deps starts it)")
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to kill, restart or cut (tests/redis_server.py)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()
