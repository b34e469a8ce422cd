"""The project's Rasa event broker (endpoints.yml: type bot.rasa_event_broker.
HelpdeskEventBroker): the conversation events Rasa's tracker store saves go to analytics.

Backends (`backend`, from ANALYTICS_BROKER):
- `store` (the embedded default): straight into the analytics database (analytics/store.py,
  `url` a SQLAlchemy URL), so `make run` needs nothing else;
- `pika` (production): through a spool file on local disk to RabbitMQ, on Rasa's own exchange
  (`rasa-exchange`, fanout) with the analytics consumer's durable queue bound to it
  (analytics/outbox.py says why this instead of Rasa's PikaEventBroker as it is).

Either way the events are already redacted (the tracker store publishes what it stored) and the
project's tracker store awaits `save_events` inside the turn: an event is durable before Rasa
answers the gateway. A Rasa server started while RabbitMQ is down starts anyway."""

from __future__ import annotations

import asyncio
import logging
import os
from asyncio import AbstractEventLoop
from pathlib import Path
from typing import Any, Sequence

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from analytics.config import Broker
from analytics.outbox import RASA_EXCHANGE, RASA_QUEUE, ExchangeSpec, Forwarder, SqliteSpool
from analytics.pseudonyms import pseudonyms_from_env
from analytics.records import from_rasa
from analytics.store import AnalyticsStore

log = logging.getLogger(__name__)


class HelpdeskEventBroker(EventBroker):
    def __init__(self, *, backend: str, url: str, spool_path: Path | None = None,
                 queues: Sequence[str] = (RASA_QUEUE,)) -> None:
        super().__init__()
        self.backend = backend
        self._store: AnalyticsStore | None = None
        self._forwarder: Forwarder | None = None
        self._spool: SqliteSpool | None = None
        self._pseudonyms = pseudonyms_from_env()
        if backend == Broker.STORE:
            self._store = AnalyticsStore(url)
        elif backend == Broker.PIKA:
            assert spool_path is not None
            self._spool = SqliteSpool(spool_path)
            spec = ExchangeSpec(RASA_EXCHANGE.name, RASA_EXCHANGE.type, RASA_EXCHANGE.durable,
                                queues=tuple(queues))
            self._forwarder = Forwarder(url, self._spool, spec)
        else:
            raise ValueError(f"unknown analytics broker backend {backend!r} (store or pika)")

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: AbstractEventLoop | None = None
                                   ) -> HelpdeskEventBroker | None:
        kwargs = dict(broker_config.kwargs)
        backend = str(kwargs.get("backend") or "").strip().lower()
        if not backend or backend == Broker.NONE:
            log.info("no analytics event broker configured")
            return None
        url = str(broker_config.url or "")
        spool = None
        if backend == Broker.PIKA:
            spool_dir = Path(str(kwargs.get("spool_dir") or "var/spool"))
            spool = spool_dir / f"rasa-events-{os.environ.get('RASA_SERVER_PORT', 'rasa')}.db"
        queues = [q.strip() for q in str(kwargs.get("queues") or RASA_QUEUE).split(",") if q.strip()]
        broker = cls(backend=backend, url=url, spool_path=spool, queues=queues)
        await broker.start()
        return broker

    async def start(self) -> None:
        if self._store is not None:
            await self._store.migrate()
        if self._forwarder is not None:
            self._forwarder.start()

    async def save_events(self, events: Sequence[dict[str, Any]]) -> None:
        """Awaited by the tracker store before the turn ends. Only analytics records leave:
        redacted, pseudonymised, no slot values. A failure here is logged, never the turn's:
        the customer's answer matters more than one turn's figures."""
        records = [r for r in (from_rasa(e, self._pseudonyms) for e in events) if r]
        try:
            if self._store is not None:
                await self._store.add(records)
            elif self._spool is not None and self._forwarder is not None:
                for record in records:
                    await self._spool.put(record.event_key, record.row())
                self._forwarder.notify()
        except Exception as exc:
            log.error("%d analytics event(s) of a turn not saved: %s", len(records),
                      type(exc).__name__)

    def publish(self, event: dict[str, Any]) -> None:
        """Rasa's synchronous interface, for callers other than the project's tracker store."""
        task = asyncio.get_running_loop().create_task(self.save_events([event]))
        task.add_done_callback(_log_failure)

    def is_ready(self) -> bool:
        return True  # events are spooled or stored whether RabbitMQ is up or not

    async def close(self) -> None:
        if self._forwarder is not None:
            await self._forwarder.drain(timeout_s=3.0)
            await self._forwarder.close()
        if self._spool is not None:
            self._spool.close()
        if self._store is not None:
            await self._store.close()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("an event could not be saved for analytics: %s",
                  type(task.exception()).__name__)
