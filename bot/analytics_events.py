"""The gateway's analytics events: the case lifecycle (opened, claimed, customer and agent
messages, returned, resolved, rated, cancelled, follow-up), the satisfaction question, and agents'
corrections of the bot. docs/analytics.md defines them.

Where they go (ANALYTICS_BROKER, like Rasa's events):
- `store` (embedded default): straight into the analytics database;
- `pika`: written to the stores' outbox first (Redis in production, so any gateway instance can
  forward what another one wrote), then published to the gateway's own durable exchange with
  publisher confirms; the analytics consumer's durable queue is bound to it.
Erasure goes the same way: the analytics rows of an erased customer are deleted directly, or by
the consumer on an erase event (which names only pseudonyms)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from typing import Any, Callable, Protocol, Sequence

from analytics.outbox import CASE_EXCHANGE, CASE_QUEUE, ExchangeSpec, Forwarder, RetryPolicy
from analytics.records import Kind, Pseudonyms, from_gateway
from analytics.store import AnalyticsStore
from bot.state import Case, CaseEvent, CaseEventKind
from bot.stores.base import KeyValueStore

log = logging.getLogger(__name__)

OUTBOX = "analytics-outbox"  # kv namespace
OUTBOX_TTL_S = 14 * 24 * 3600  # RabbitMQ away for two weeks: older events are dropped
ERASE = "erase"
_SENT = {CaseEventKind.OPENED, CaseEventKind.CLAIMED, CaseEventKind.CUSTOMER_MESSAGE,
         CaseEventKind.AGENT_MESSAGE, CaseEventKind.RETURNED, CaseEventKind.RESOLVED,
         CaseEventKind.CANCELLED, CaseEventKind.RATED, CaseEventKind.FOLLOW_UP_CONTACT}


_ONCE_PER_CASE = {CaseEventKind.OPENED, CaseEventKind.CLAIMED, CaseEventKind.RETURNED,
                  CaseEventKind.RESOLVED, CaseEventKind.CANCELLED, CaseEventKind.RATED}


def _case_event_id(case_id: str, kind: str) -> str:
    return hashlib.sha256(f"{case_id}\x1f{kind}".encode()).hexdigest()[:16]


class Sink(Protocol):
    async def send(self, message: dict[str, Any]) -> None: ...

    async def erase(self, *, conversations: Sequence[str], customers: Sequence[str]) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class StoreSink:
    def __init__(self, store: AnalyticsStore, pseudonyms: Pseudonyms) -> None:
        self._store, self._pseudonyms = store, pseudonyms

    async def start(self) -> None:
        await self._store.migrate()

    async def send(self, message: dict[str, Any]) -> None:
        record = from_gateway(message, self._pseudonyms)
        if record is not None:
            await self._store.add([record])

    async def erase(self, *, conversations: Sequence[str], customers: Sequence[str]) -> None:
        await self._store.erase(conversations=conversations, customers=customers)

    async def close(self) -> None:
        await self._store.close()


class KvSpool:
    """The analytics outbox in the gateway's key-value store, oldest first by key."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    async def put(self, key: str, body: dict[str, Any]) -> None:
        await self._kv.put(OUTBOX, key, body, ttl_s=OUTBOX_TTL_S, listed=True)

    async def pending(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for key in sorted(await self._kv.keys(OUTBOX))[:limit]:
            body = await self._kv.get(OUTBOX, key)
            if body is not None:
                found.append((key, body))
        return found

    async def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            await self._kv.delete(OUTBOX, key)


class OutboxSink:
    def __init__(self, amqp_url: str, kv: KeyValueStore, pseudonyms: Pseudonyms, *,
                 clock: Callable[[], float] = time.time,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self._spool = KvSpool(kv)
        self._pseudonyms = pseudonyms
        spec = ExchangeSpec(CASE_EXCHANGE.name, CASE_EXCHANGE.type, CASE_EXCHANGE.durable,
                            queues=(CASE_QUEUE,))
        self.forwarder = Forwarder(amqp_url, self._spool, spec, retry=retry)
        self._clock = clock

    async def start(self) -> None:
        self.forwarder.start()

    async def send(self, message: dict[str, Any]) -> None:
        # What leaves is the record (pseudonymised, redacted), not the raw ids and texts.
        record = from_gateway(message, self._pseudonyms)
        if record is not None:
            await self._put(record.event_key, record.row())

    async def _put(self, key: str, body: dict[str, Any]) -> None:
        # Sortable keys: time first, then the event's own key.
        await self._spool.put(f"{self._clock():017.6f}-{key}", body)
        self.forwarder.notify()

    async def erase(self, *, conversations: Sequence[str], customers: Sequence[str]) -> None:
        await self._put(secrets.token_hex(8), {"ts": self._clock(), "kind": ERASE,
                                               "conversations": list(conversations),
                                               "customers": list(customers)})

    async def close(self) -> None:
        await self.forwarder.drain(timeout_s=3.0)
        await self.forwarder.close()


class GatewayEvents:
    """Subscribed to the case desk (once per event, on the instance where it happened)."""

    def __init__(self, sink: Sink, pseudonyms: Pseudonyms, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._sink = sink
        self._pseudonyms = pseudonyms
        self._clock = clock

    async def start(self) -> None:
        await self._sink.start()

    async def close(self) -> None:
        await self._sink.close()

    async def on_case_event(self, event: CaseEvent) -> None:
        if event.kind not in _SENT:
            return
        case = event.case
        fields: dict[str, Any] = {"case_id": case.case_id}
        if event.kind is CaseEventKind.OPENED:
            fields["trigger"] = str((case.trigger or {}).get("kind") or "unknown")
        elif event.kind in (CaseEventKind.CLAIMED, CaseEventKind.AGENT_MESSAGE,
                            CaseEventKind.RESOLVED, CaseEventKind.RETURNED):
            fields["agent"] = event.actor or case.agent
        elif event.kind is CaseEventKind.CUSTOMER_MESSAGE:
            fields["text"] = event.text or ""
        elif event.kind is CaseEventKind.RATED:
            fields["rating"] = case.csat
        # A case is opened, claimed, closed and rated once: such an event's id is the case's
        # and the kind's, so a desk that emits it again (a retried turn) does not count twice.
        # Messages are many per case and get fresh ids.
        once = event.kind in _ONCE_PER_CASE
        await self.send(str(event.kind), conversation_id=case.conversation_id,
                        customer_id=case.customer_id, channel=case.channel,
                        event_id=_case_event_id(case.case_id, str(event.kind)) if once else None,
                        **fields)
        if event.kind is CaseEventKind.RESOLVED:  # the desk asks for a rating on resolving
            await self.send(str(Kind.CSAT_ASKED), conversation_id=case.conversation_id,
                            customer_id=case.customer_id, channel=case.channel,
                            case_id=case.case_id,
                            event_id=_case_event_id(case.case_id, str(Kind.CSAT_ASKED)))

    async def send(self, kind: str, *, conversation_id: str, customer_id: str | None,
                   channel: str | None, event_id: str | None = None, **fields: Any) -> None:
        message = {"event_id": event_id or secrets.token_hex(8), "ts": self._clock(), "kind": kind,
                   "conversation_id": conversation_id, "customer_id": customer_id or "",
                   "channel": channel or "", **fields}
        try:
            await self._sink.send(message)
        except Exception as exc:  # analytics must never stop a customer's conversation
            log.error("analytics event %s not recorded: %s", kind, type(exc).__name__)

    async def relabel(self, case: Case, *, text: str, intent: str, wrong_answer: bool,
                      agent: str) -> None:
        """An agent's correction of the bot (console or Slack inbox): a training candidate."""
        await self.send(str(Kind.RELABELLED), conversation_id=case.conversation_id,
                        customer_id=case.customer_id, channel=case.channel, case_id=case.case_id,
                        text=text, intent=intent, wrong_answer=wrong_answer, agent=agent)

    async def erase(self, conversation_id: str, customer_id: str | None) -> None:
        await self._sink.erase(conversations=[self._pseudonyms.of(conversation_id)],
                               customers=[self._pseudonyms.of(customer_id or conversation_id)])
