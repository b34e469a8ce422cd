"""Fixtures for the tracker store suites: one place per backend (SQLite on a temp file, a fresh
PostgreSQL schema, a unique Redis key prefix), each with an injected clock and a way to read
what is really stored (tables / keys), so tests prove absence without trusting the code under
test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa

from bot.log_redaction import uninstall as uninstall_log_redaction
from bot.tracker_storage import (
    RedisTrackerStorage,
    SqlTrackerStorage,
    TrackerRetention,
    TrackerStorageConfig,
)
from tests.conftest import REDIS_URL

BACKENDS = ["sqlite", "postgresql", "redis"]
SQL_TABLES = ("helpdesk_tracker_events", "helpdesk_tracker_conversations",
              "helpdesk_tracker_checkpoints")
Storage = SqlTrackerStorage | RedisTrackerStorage


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Place:
    """Where one test's trackers live. `config` opens our storage there; `dump` is every byte
    of tracker data stored there, read directly; `elapse` moves time for the storage (the
    injected clock) and, on Redis, for the key TTLs as if Redis's own clock moved too."""

    kind: str
    config: TrackerStorageConfig
    clock: FakeClock
    dump: Callable[[], Awaitable[str]]
    elapse: Callable[[float], Awaitable[None]]
    redis: aioredis.Redis | None = None
    sql_url: str | None = None

    async def raw_events(self, sender_id: str) -> list[dict[str, object]]:
        """The conversation's events as stored, read from the table / list itself."""
        if self.redis is not None:
            key = f"{self.config.key_prefix}:tracker:events:{sender_id}"
            return [json.loads(e) for e in await self.redis.lrange(key, 0, -1)]
        assert self.sql_url is not None
        engine = sa.create_engine(self.sql_url, future=True)
        try:
            with engine.connect() as c:
                rows = c.exec_driver_sql(
                    "SELECT data FROM helpdesk_tracker_events WHERE sender_id = ? ORDER BY id"
                    if self.kind == "sqlite" else
                    "SELECT data FROM helpdesk_tracker_events WHERE sender_id = %s ORDER BY id",
                    (sender_id,)).all()
            return [json.loads(r.data) for r in rows]
        finally:
            engine.dispose()

    def open(self, retention: TrackerRetention | None = None) -> Storage:
        return self.config.open(retention=retention, clock=self.clock)

    @property
    def store_kwargs(self) -> dict[str, object]:
        """The same place as HelpdeskTrackerStore's keyword arguments (endpoints.yml keys)."""
        return {"backend": self.config.kind, "host": self.config.url, "port": self.config.port,
                "db": self.config.db, "key_prefix": self.config.key_prefix}


def _sql_dump(url: str) -> Callable[[], Awaitable[str]]:
    async def dump() -> str:
        engine = sa.create_engine(url, future=True)
        try:
            with engine.connect() as c:
                present = set(sa.inspect(c).get_table_names())
                lines = [f"tables: {sorted(present)}"]
                for table in SQL_TABLES:
                    if table in present:
                        rows = c.exec_driver_sql(f"SELECT * FROM {table}").all()
                        lines += [json.dumps([str(v) for v in row]) for row in rows]
                return "\n".join(lines)
        finally:
            engine.dispose()
    return dump


async def redis_dump(client: aioredis.Redis, prefix: str) -> str:
    lines = []
    async for key in client.scan_iter(match=prefix + "*"):
        kind = (await client.type(key)).decode()
        if kind == "list":
            value: object = await client.lrange(key, 0, -1)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "set":
            value = await client.smembers(key)
        elif kind == "zset":
            value = await client.zrange(key, 0, -1)
        else:
            value = await client.get(key)
        lines.append(f"{key!r} {kind} {value!r}")
    return "\n".join(sorted(lines))


@pytest.fixture(scope="package", autouse=True)
def no_log_redaction_after() -> Iterator[None]:
    """HelpdeskTrackerStore installs the process-wide log redaction (as it must in Rasa's
    server); the test modules after this package log as they expect."""
    yield
    uninstall_log_redaction()


@pytest.fixture(params=BACKENDS)
async def place(request: pytest.FixtureRequest, tmp_path: Path,
                redis_prefix: str) -> AsyncIterator[Place]:
    clock = FakeClock()
    if request.param == "redis":
        client = aioredis.Redis.from_url(REDIS_URL)
        parts = urlsplit(REDIS_URL)
        key_prefix = redis_prefix + "h"
        config = TrackerStorageConfig(kind="redis", url=parts.hostname or "127.0.0.1",
                                      port=parts.port or 6379,
                                      db=int(parts.path.strip("/") or 0), key_prefix=key_prefix)

        async def elapse(seconds: float) -> None:
            clock.now += seconds
            async for key in client.scan_iter(match=redis_prefix + "*"):
                left = await client.pttl(key)
                if left > 0:  # keys without a TTL stay, as they would on a real clock
                    if left <= seconds * 1000:
                        await client.delete(key)
                    else:
                        await client.pexpire(key, int(left - seconds * 1000))

        yield Place("redis", config, clock, lambda: redis_dump(client, redis_prefix), elapse,
                    redis=client)
        await client.aclose()
        return

    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'tracker.db'}"

    yield sql_place(request.param, url, clock)


def sql_place(kind: str, url: str, clock: FakeClock) -> Place:
    async def advance(seconds: float) -> None:
        clock.now += seconds

    return Place(kind, TrackerStorageConfig(kind="sql", url=url), clock, _sql_dump(url), advance,
                 sql_url=url)


@pytest.fixture
async def storage(place: Place) -> AsyncIterator[Storage]:
    opened = place.open(TrackerRetention(retention_s=30 * 86400, contacts_s=86400))
    yield opened
    await opened.close()
