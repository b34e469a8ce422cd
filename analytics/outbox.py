"""At-least-once delivery of events to RabbitMQ: every event is written to a durable spool
before anything else, and a forwarder publishes the spool in order with publisher confirms,
removing an event only once RabbitMQ has confirmed it (persistent message, durable queue).

Why not Rasa's PikaEventBroker as it is (rasa/core/brokers/pika.py, 3.6): it keeps unpublished
events in process memory (a restart loses them), silently drops events published before its
connection is up (`if self._exchange is None: return`), makes the Rasa server fail to start when
RabbitMQ is unreachable (20 attempts, 5 s apart, then it raises), and logs the event body when a
publish fails. The forwarder below keeps Rasa's exchange and message format, and has none of
those limits: the spool survives restarts, a forwarder that cannot connect keeps retrying in the
background, and nothing it logs contains an event.

What is spooled and published is the analytics record (analytics/records.py: redacted,
pseudonymised, no slot values), never Rasa's raw event: phone numbers and slot values do not sit
in spool files or queues. The consumer de-duplicates by event key (docs/analytics.md): a crash
between RabbitMQ's confirm and the spool's delete publishes that event again, which is harmless."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExchangeSpec:
    """An exchange as its owner declares it: declaring it with other arguments fails
    (PRECONDITION_FAILED), so everyone uses the owner's."""

    name: str
    type: aio_pika.ExchangeType
    durable: bool
    queues: tuple[str, ...] = ()  # durable queues bound to it, so nothing waits unrouted


# Rasa's, exactly as rasa.core.brokers.pika declares it (fanout, not durable).
RASA_EXCHANGE = ExchangeSpec("rasa-exchange", aio_pika.ExchangeType.FANOUT, durable=False)
# The gateway's own, for case events.
CASE_EXCHANGE = ExchangeSpec("helpdesk-case-events", aio_pika.ExchangeType.FANOUT, durable=True)
RASA_QUEUE = "helpdesk-analytics.rasa"
CASE_QUEUE = "helpdesk-analytics.cases"


@dataclass(frozen=True)
class RetryPolicy:
    first_s: float = 0.5
    max_s: float = 15.0

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.first_s * (2 ** max(0, attempt - 1)))


class Spool(Protocol):
    async def put(self, key: str, body: dict[str, Any]) -> None: ...

    async def pending(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """The oldest spooled events."""
        ...

    async def remove(self, keys: Sequence[str]) -> None: ...


class SqliteSpool:
    """A spool file of one process's own (a Rasa server's), kept on local disk."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY "
                         "AUTOINCREMENT, key TEXT UNIQUE NOT NULL, body TEXT NOT NULL)")
        self._lock = asyncio.Lock()

    async def _do(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        async with self._lock:
            return await asyncio.to_thread(lambda: self._db.execute(sql, args).fetchall())

    async def put(self, key: str, body: dict[str, Any]) -> None:
        await self._do("INSERT OR IGNORE INTO spool (key, body) VALUES (?, ?)",
                       (key, json.dumps(body, separators=(",", ":"))))

    async def pending(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        rows = await self._do("SELECT key, body FROM spool ORDER BY seq LIMIT ?", (limit,))
        return [(key, json.loads(body)) for key, body in rows]

    async def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            await self._do("DELETE FROM spool WHERE key = ?", (key,))

    def close(self) -> None:
        self._db.close()


class Forwarder:
    """Publishes a spool to one exchange, in the background, for as long as it runs."""

    def __init__(self, url: str, spool: Spool, exchange: ExchangeSpec, *,
                 retry: RetryPolicy = RetryPolicy(), batch: int = 200,
                 app_id: str | None = None) -> None:
        self._url = url
        self._spool = spool
        self._spec = exchange
        self._retry = retry
        self._batch = batch
        self._app_id = app_id or os.environ.get("RASA_ENVIRONMENT")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: AbstractConnection | None = None
        self.published = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def notify(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                exchange = await self._connect()
                attempt = 0
                await self._forward(exchange)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RabbitMQ away or restarting: the spool keeps everything
                attempt += 1
                log.warning("event forwarding to RabbitMQ (%s) paused: %s; retrying in %.1f s",
                            self._spec.name, type(exc).__name__, self._retry.delay(attempt))
                await self._disconnect()
                await asyncio.sleep(self._retry.delay(attempt))

    async def _connect(self) -> AbstractExchange:
        # A plain connection, not aio-pika's robust one: reconnection is this loop's job, so a
        # publish never waits inside a half-reconnected channel.
        self._connection = await aio_pika.connect(self._url, timeout=5)
        # Confirms, and a message RabbitMQ returns as unroutable (its queue deleted or unbound)
        # fails the publish instead of counting as sent: it stays in the spool.
        channel: AbstractChannel = await self._connection.channel(publisher_confirms=True,
                                                                  on_return_raises=True)
        exchange = await channel.declare_exchange(self._spec.name, type=self._spec.type,
                                                  durable=self._spec.durable)
        for queue_name in self._spec.queues:
            queue = await channel.declare_queue(queue_name, durable=True)
            await queue.bind(exchange, "")
        return exchange

    async def _forward(self, exchange: AbstractExchange) -> None:
        while True:
            self._wake.clear()
            batch = await self._spool.pending(self._batch)
            if not batch:
                await self._wait_for_work()
                continue
            done: list[str] = []
            try:
                for key, body in batch:
                    await exchange.publish(self._message(key, body), routing_key="",
                                           mandatory=True, timeout=10)
                    done.append(key)
            finally:
                if done:
                    await self._spool.remove(done)
                    self.published += len(done)

    async def _wait_for_work(self) -> None:
        assert self._connection is not None
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            pass
        if not self._connection.connected.is_set():
            raise ConnectionError("the connection to RabbitMQ closed")

    def _message(self, key: str, body: dict[str, Any]) -> aio_pika.Message:
        return aio_pika.Message(json.dumps(body).encode("utf-8"), app_id=self._app_id,
                                message_id=key, content_type="application/json",
                                delivery_mode=aio_pika.DeliveryMode.PERSISTENT)

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.close(), 5)
            except Exception:  # already gone
                pass

    async def drain(self, *, timeout_s: float = 5.0) -> bool:
        """Wait (a bounded time) until the spool is empty; True if it is."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not await self._spool.pending(1):
                return True
            self.notify()
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        await self._disconnect()
