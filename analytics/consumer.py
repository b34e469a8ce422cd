"""The analytics consumer (`python -m analytics consume`): reads Rasa's conversation events and
the gateway's case events from their durable queues on RabbitMQ and stores them, redacted and
pseudonymised, in the analytics database. A message is acknowledged only after its row is
committed, so a consumer that is down or crashes loses nothing: RabbitMQ keeps the queue, and a
redelivery is recognised by its event key (docs/analytics.md).

Its Prometheus metrics are served on a localhost-only port (ANALYTICS_METRICS_PORT)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import aio_pika
from sqlalchemy import exc as sa_exc
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

from analytics.outbox import CASE_EXCHANGE, CASE_QUEUE, RASA_EXCHANGE, RASA_QUEUE, RetryPolicy
from analytics.records import Pseudonyms, Record, from_gateway, from_rasa
from analytics.store import AnalyticsStore
from bot.analytics_events import ERASE

log = logging.getLogger(__name__)


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.consumed = Counter("helpdesk_analytics_events_total",
                                "Events taken from RabbitMQ, by source and outcome",
                                ["source", "outcome"], registry=self.registry)
        self.store_seconds = Histogram("helpdesk_analytics_store_seconds",
                                       "Time to commit one event to the analytics database",
                                       registry=self.registry,
                                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                0.25, 0.5, 1.0))
        self.lag_seconds = Histogram("helpdesk_analytics_lag_seconds",
                                     "From the event's timestamp to its row being committed",
                                     registry=self.registry,
                                     buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600))


@dataclass
class Consumer:
    amqp_url: str
    store: AnalyticsStore
    pseudonyms: Pseudonyms
    metrics: ConsumerMetrics
    prefetch: int = 100
    retry: RetryPolicy = RetryPolicy()
    clock: Callable[[], float] = time.time

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, reconnecting whenever RabbitMQ goes away."""
        await self.store.migrate()
        attempt = 0
        while not stop.is_set():
            try:
                connection = await aio_pika.connect(self.amqp_url, timeout=5)
            except Exception as exc:
                attempt += 1
                log.warning("RabbitMQ unreachable (%s); retrying in %.1f s",
                            type(exc).__name__, self.retry.delay(attempt))
                await _wait(stop, self.retry.delay(attempt))
                continue
            attempt = 0
            try:
                await self._consume(connection, stop)
            except Exception as exc:
                log.warning("consuming stopped: %s; reconnecting", type(exc).__name__)
            finally:
                if not connection.is_closed:
                    await connection.close()

    async def _consume(self, connection: aio_pika.abc.AbstractConnection,
                       stop: asyncio.Event) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        for spec, queue_name, handler in ((RASA_EXCHANGE, RASA_QUEUE, self._rasa),
                                          (CASE_EXCHANGE, CASE_QUEUE, self._gateway)):
            # Declared with its owner's arguments (Rasa's is not durable): a different
            # declaration would be refused and close the channel.
            exchange = await channel.declare_exchange(spec.name, type=spec.type,
                                                      durable=spec.durable)
            queue = await channel.declare_queue(queue_name, durable=True)
            await queue.bind(exchange, "")
            await queue.consume(handler)
        log.info("consuming %s and %s", RASA_QUEUE, CASE_QUEUE)
        while not stop.is_set() and connection.connected.is_set():
            await _wait(stop, 0.5)
        if not stop.is_set():
            raise ConnectionError("the connection to RabbitMQ closed")

    async def _rasa(self, message: AbstractIncomingMessage) -> None:
        await self._handle(message, "rasa", lambda body: from_rasa(body, self.pseudonyms))

    async def _gateway(self, message: AbstractIncomingMessage) -> None:
        await self._handle(message, "gateway", lambda body: from_gateway(body, self.pseudonyms))

    @staticmethod
    def _record_of(body: dict[str, Any],
                   convert: Callable[[dict[str, Any]], Record | None]) -> Record | None:
        """The project's publishers send records (already redacted and pseudonymised); Rasa's
        own pika broker, if one is configured instead, sends its raw events."""
        return Record.from_wire(body) if "event_key" in body else convert(body)

    async def _handle(self, message: AbstractIncomingMessage, source: str,
                      convert: Callable[[dict[str, Any]], Record | None]) -> None:
        try:
            body = json.loads(message.body)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            # Never requeued (it would come back forever); counted, and its body never logged.
            self.metrics.consumed.labels(source, "malformed").inc()
            await message.reject(requeue=False)
            return
        erase = source == "gateway" and body.get("kind") == ERASE
        try:
            record = None if erase else self._record_of(body, convert)
        except (ValueError, TypeError, KeyError, AttributeError):
            # Not something this consumer can ever store: refused once, not requeued forever.
            self.metrics.consumed.labels(source, "malformed").inc()
            await message.reject(requeue=False)
            return
        try:
            started = time.perf_counter()
            if erase:
                at = body.get("ts")
                await self.store.erase(conversations=[str(c) for c in body.get("conversations") or []],
                                       customers=[str(c) for c in body.get("customers") or []],
                                       at=float(at) if isinstance(at, (int, float)) else None)
                outcome = "erased"
            elif record is None:
                outcome = "ignored"
            else:
                outcome = "stored" if await self.store.add([record]) else "duplicate"
                self.metrics.lag_seconds.observe(max(0.0, self.clock() - record.ts))
            self.metrics.store_seconds.observe(time.perf_counter() - started)
        except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
            log.warning("event refused by the database (%s); dropped", type(exc).__name__)
            self.metrics.consumed.labels(source, "refused").inc()
            await message.reject(requeue=False)
            return
        except Exception as exc:  # the database is away: back on the queue, tried again later
            log.warning("event not stored (%s); requeued", type(exc).__name__)
            self.metrics.consumed.labels(source, "requeued").inc()
            await message.nack(requeue=True)
            await asyncio.sleep(self.retry.delay(1))
            return
        self.metrics.consumed.labels(source, outcome).inc()
        await message.ack()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


def metrics_app(registry: CollectorRegistry) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})
    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app
