"""Events through RabbitMQ to the analytics database, on a real RabbitMQ node: nothing is lost
while the consumer or RabbitMQ is down, nothing counts twice, and a bad message neither blocks
the queue nor comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest

from analytics.consumer import Consumer, ConsumerMetrics
from analytics.outbox import (CASE_EXCHANGE, CASE_QUEUE, RASA_EXCHANGE, RASA_QUEUE, ExchangeSpec,
                              Forwarder, RetryPolicy, SqliteSpool)
from analytics.records import Source, event_key
from analytics.store import AnalyticsStore
from tests.analytics.script import PSEUDONYMS, the_week
from tests.rabbit_server import RabbitServer

FAST = RetryPolicy(first_s=0.1, max_s=0.5)
RASA_SPEC = ExchangeSpec(RASA_EXCHANGE.name, RASA_EXCHANGE.type, RASA_EXCHANGE.durable,
                         queues=(RASA_QUEUE,))


def rasa_events() -> list[dict]:
    return [body for c in the_week() for source, body in c.raw if source == "rasa"]


def gateway_events() -> list[dict]:
    return [body for c in the_week() for source, body in c.raw if source == "gateway"]


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.05)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AnalyticsStore]:
    opened = AnalyticsStore(f"sqlite:///{tmp_path / 'analytics.db'}")
    yield opened
    await opened.close()


@pytest.fixture
async def spool(tmp_path: Path) -> AsyncIterator[SqliteSpool]:
    opened = SqliteSpool(tmp_path / "spool.db")
    yield opened
    opened.close()


async def purge(rabbit: RabbitServer) -> None:
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        for name in (RASA_QUEUE, CASE_QUEUE):
            queue = await channel.declare_queue(name, durable=True)
            await queue.purge()


class Running:
    """A consumer task that can be stopped and started again."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.consumer.run(self.stop))

    async def halt(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task


@pytest.fixture
async def consumer(rabbit: RabbitServer, store: AnalyticsStore) -> AsyncIterator[Running]:
    await purge(rabbit)
    running = Running(Consumer(rabbit.url, store, PSEUDONYMS, ConsumerMetrics(), retry=FAST))
    yield running
    await running.halt()


async def spool_all(spool: SqliteSpool, events: list[dict]) -> None:
    for event in events:
        await spool.put(event_key(Source.RASA, event["sender_id"], event["event"],
                                  event["timestamp"], event), event)


async def test_events_published_while_the_consumer_is_down_wait_in_its_queue(
        rabbit: RabbitServer, spool: SqliteSpool, store: AnalyticsStore,
        consumer: Running) -> None:
    events = rasa_events()
    await spool_all(spool, events)
    forwarder = Forwarder(rabbit.url, spool, RASA_SPEC, retry=FAST)
    forwarder.start()
    try:
        assert await forwarder.drain(timeout_s=20)
    finally:
        await forwarder.close()
    assert await store.count() == 0
    consumer.start()
    await eventually(lambda: _count_is(store, len(events)))


async def test_events_spooled_while_rabbitmq_is_down_are_delivered_when_it_is_back(
        rabbit: RabbitServer, spool: SqliteSpool, store: AnalyticsStore,
        consumer: Running) -> None:
    consumer.start()
    rabbit.stop()
    forwarder = Forwarder(rabbit.url, spool, RASA_SPEC, retry=FAST)
    forwarder.start()  # a Rasa server starting while RabbitMQ is away: no error, just waiting
    try:
        events = rasa_events()
        await spool_all(spool, events)
        forwarder.notify()
        await asyncio.sleep(0.5)
        assert len(await spool.pending(1000)) == len(events)
        rabbit.start()
        await eventually(lambda: _count_is(store, len(events)), timeout_s=60)
        assert await spool.pending(1) == []
    finally:
        await forwarder.close()


async def test_a_rabbitmq_restart_mid_stream_loses_nothing_and_counts_nothing_twice(
        rabbit: RabbitServer, spool: SqliteSpool, store: AnalyticsStore,
        consumer: Running) -> None:
    consumer.start()
    forwarder = Forwarder(rabbit.url, spool, RASA_SPEC, retry=FAST)
    forwarder.start()
    events = rasa_events()
    half = len(events) // 2
    try:
        await spool_all(spool, events[:half])
        forwarder.notify()
        await eventually(lambda: _count_is(store, half))
        rabbit.stop(kill=True)  # a crash, not a shutdown
        await spool_all(spool, events[half:])
        rabbit.start()
        await eventually(lambda: _count_is(store, len(events)), timeout_s=60)
    finally:
        await forwarder.close()
    stored = await store.records()
    assert len({r.event_key for r in stored}) == len(stored) == len(events)


async def test_case_events_and_erasure_reach_the_store(
        rabbit: RabbitServer, tmp_path: Path, store: AnalyticsStore, consumer: Running) -> None:
    consumer.start()
    spool = SqliteSpool(tmp_path / "cases.db")
    spec = ExchangeSpec(CASE_EXCHANGE.name, CASE_EXCHANGE.type, CASE_EXCHANGE.durable,
                        queues=(CASE_QUEUE,))
    forwarder = Forwarder(rabbit.url, spool, spec, retry=FAST)
    forwarder.start()
    try:
        events = gateway_events()
        for event in events:
            await spool.put(event["event_id"], event)
        forwarder.notify()
        await eventually(lambda: _count_is(store, len(events)))
        customer = PSEUDONYMS.of("sms:+15550000002")
        await spool.put("erase-1", {"event_id": "erase-1", "ts": 1.0, "kind": "erase",
                                    "conversations": [], "customers": [customer]})
        forwarder.notify()
        await eventually(lambda: _none_of(store, customer))
    finally:
        await forwarder.close()
        spool.close()


async def test_a_malformed_message_is_dropped_once_and_the_queue_goes_on(
        rabbit: RabbitServer, store: AnalyticsStore, consumer: Running) -> None:
    consumer.start()
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(RASA_EXCHANGE.name, type=RASA_EXCHANGE.type,
                                                  durable=RASA_EXCHANGE.durable)
        await eventually(lambda: _bound(rabbit))
        await exchange.publish(aio_pika.Message(b"{not json"), routing_key="")
        # JSON, but not a record (a poison message): refused once, not requeued forever.
        await exchange.publish(aio_pika.Message(b'{"event_key": "short", "ts": "soon"}'),
                               routing_key="")
        await exchange.publish(aio_pika.Message(b'{"sender_id": "web:x", "event": "user", '
                                                b'"timestamp": 1.0, "metadata": "not a dict"}'),
                               routing_key="")
        good = rasa_events()[0]
        import json
        await exchange.publish(aio_pika.Message(json.dumps(good).encode()), routing_key="")
    await eventually(lambda: _count_is(store, 1))
    metrics = consumer.consumer.metrics
    assert metrics.consumed.labels("rasa", "malformed")._value.get() == 3


async def test_rasas_own_pika_broker_shares_the_exchange(
        rabbit: RabbitServer, store: AnalyticsStore, consumer: Running) -> None:
    """Rasa's PikaEventBroker declares the exchange its way; ours must not conflict with it."""
    import rasa.shared.core.events  # noqa: F401  (a Rasa server has it imported; pika.py needs it)
    from rasa.core.brokers.pika import PikaEventBroker

    consumer.start()
    await eventually(lambda: _bound(rabbit))
    broker = PikaEventBroker("127.0.0.1", "guest", "guest", port=rabbit.port,
                             queues=[RASA_QUEUE], connection_attempts=3, retry_delay_in_seconds=1)
    await broker.connect()
    try:
        broker.publish(rasa_events()[0])
        await eventually(lambda: _count_is(store, 1))
    finally:
        await broker.close()


async def _count_is(store: AnalyticsStore, expected: int) -> bool:
    return await store.count() == expected


async def _none_of(store: AnalyticsStore, customer: str) -> bool:
    return all(r.customer != customer for r in await store.records())


async def _bound(rabbit: RabbitServer) -> bool:
    """The consumer is consuming both queues (it binds each before it consumes it; a queue
    that merely exists may not be bound yet, and a fanout exchange drops what no queue gets)."""
    try:
        connection = await aio_pika.connect(rabbit.url)
    except Exception:
        return False
    async with connection:
        channel = await connection.channel()
        try:
            for name in (RASA_QUEUE, CASE_QUEUE):
                queue = await channel.declare_queue(name, passive=True)
                if not queue.declaration_result.consumer_count:
                    return False
            return True
        except Exception:
            return False


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_the_gateways_outbox_keeps_case_events_while_rabbitmq_is_down(
        rabbit: RabbitServer, store: AnalyticsStore, consumer: Running, tmp_path: Path,
        kind: str) -> None:
    """The gateway's outbox lives in its stores (Redis in production: any instance forwards it)."""
    import uuid

    from bot.analytics_events import OutboxSink
    from bot.stores import redis_stores, sqlite_stores
    from tests.conftest import REDIS_URL

    stores = (sqlite_stores(tmp_path / "gateway.db") if kind == "sqlite"
              else redis_stores(REDIS_URL, prefix=f"test-outbox-{uuid.uuid4().hex[:8]}:"))
    await stores.start()
    consumer.start()
    await eventually(lambda: _bound(rabbit))
    rabbit.stop()
    sink = OutboxSink(rabbit.url, stores.kv, PSEUDONYMS, retry=FAST)
    await sink.start()
    try:
        events = gateway_events()
        for event in events:
            await sink.send(event)
        assert len(await stores.kv.keys("analytics-outbox")) == len(events)
        rabbit.start()
        await eventually(lambda: _count_is(store, len(events)), timeout_s=60)
        await eventually(lambda: _outbox_empty(stores))
    finally:
        await sink.close()
        await stores.close()


async def _outbox_empty(stores) -> bool:
    return await stores.kv.keys("analytics-outbox") == []


async def test_rasas_broker_starts_with_rabbitmq_down_and_forwards_later(
        rabbit: RabbitServer, store: AnalyticsStore, consumer: Running, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What endpoints.yml starts in production: no refusal to start, nothing dropped, and only
    analytics records (no raw ids, no slot values) in the spool and on the queue."""
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_event_broker import HelpdeskEventBroker
    from tests.analytics.gateway_settings import KEY

    monkeypatch.setenv("ANALYTICS_PSEUDONYM_KEY", KEY)

    consumer.start()
    await eventually(lambda: _bound(rabbit))
    rabbit.stop()
    broker = await HelpdeskEventBroker.from_endpoint_config(EndpointConfig(
        url=rabbit.url, backend="pika", spool_dir=str(tmp_path / "spool")))
    assert broker is not None and broker.is_ready()
    try:
        events = rasa_events() + [{"sender_id": "sms:+15550009999", "event": "slot",
                                   "timestamp": 1.0, "name": "order_contact",
                                   "value": "jo@example.com"}]
        await broker.save_events(events)
        spooled = (tmp_path / "spool").glob("*.db")
        raw = b"".join(path.read_bytes() for path in spooled)
        assert b"+1555" not in raw and b"jo@example.com" not in raw
        rabbit.start()
        await eventually(lambda: _count_is(store, len(events) - 1), timeout_s=60)  # not the slot
    finally:
        await broker.close()


async def test_the_consumer_serves_its_metrics(rabbit: RabbitServer, store: AnalyticsStore,
                                               consumer: Running, spool: SqliteSpool,
                                               serve) -> None:
    import aiohttp

    from analytics.consumer import metrics_app

    consumer.start()
    events = rasa_events()
    await spool_all(spool, events + events[:3])  # the spool de-duplicates by key already
    forwarder = Forwarder(rabbit.url, spool, RASA_SPEC, retry=FAST)
    forwarder.start()
    try:
        await eventually(lambda: _count_is(store, len(events)))
    finally:
        await forwarder.close()
    url = await serve(metrics_app(consumer.consumer.metrics.registry))
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as resp:
        text = await resp.text()
    stored = [line for line in text.splitlines()
              if line.startswith('helpdesk_analytics_events_total{outcome="stored",source="rasa"}')]
    assert stored == [f'helpdesk_analytics_events_total{{outcome="stored",source="rasa"}} '
                      f'{float(len(events))}']
