"""The gateway's Prometheus metrics (prometheus-client), served at GET /metrics on the gateway's
port, which is the public webhook port: it answers only with "Authorization: Bearer
$METRICS_TOKEN" (and is off without one). Every label has a bounded set of values (channel
names, trigger kinds, route templates, ratings), never an id or a text."""

from __future__ import annotations

import hmac
import time
from typing import Awaitable, Callable

from aiohttp import web
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest)

from bot.state import CaseEvent, CaseEventKind

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
AGENT_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = registry or CollectorRegistry()
        self._clock = clock
        r = self.registry
        self.messages = Counter("helpdesk_messages_total", "Customer messages accepted",
                                ["channel"], registry=r)
        self.duplicates = Counter("helpdesk_duplicate_messages_total",
                                  "Platform retries and duplicates recognised (not answered again)",
                                  ["channel"], registry=r)
        self.turn_seconds = Histogram("helpdesk_turn_seconds",
                                      "From a message being accepted to its answer being sent",
                                      ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.queue_wait_seconds = Histogram(
            "helpdesk_queue_wait_seconds",
            "From a message being accepted to it being sent to Rasa (the conversation's queue)",
            ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.rasa_seconds = Histogram("helpdesk_rasa_seconds", "One Rasa turn, as the gateway waits",
                                      buckets=LATENCY_BUCKETS, registry=r)
        self.rasa_errors = Counter("helpdesk_rasa_errors_total",
                                   "Turns Rasa could not take (the message is kept)", registry=r)
        self.webhook_ack_seconds = Histogram(
            "helpdesk_webhook_ack_seconds", "Time to acknowledge a webhook or chat request",
            ["route", "status"], buckets=LATENCY_BUCKETS, registry=r)
        self.handoffs = Counter("helpdesk_handoffs_total", "Cases opened, by trigger",
                                ["trigger"], registry=r)
        # Measured at the claim: it happens once per case on one instance (a first reply would
        # need every instance to remember which cases had one).
        self.agent_response_seconds = Histogram(
            "helpdesk_agent_response_seconds", "From a case opening to an agent taking it",
            buckets=AGENT_BUCKETS, registry=r)
        self.csat = Counter("helpdesk_csat_ratings_total", "Satisfaction ratings, by value",
                            ["rating"], registry=r)

    async def on_case_event(self, event: CaseEvent) -> None:
        case = event.case
        if event.kind is CaseEventKind.OPENED:
            self.handoffs.labels(str((case.trigger or {}).get("kind") or "unknown")).inc()
        elif event.kind is CaseEventKind.CLAIMED:
            taken = case.claimed_at if case.claimed_at is not None else self._clock()
            self.agent_response_seconds.observe(max(0.0, taken - case.opened_at))
        elif event.kind is CaseEventKind.RATED and case.csat is not None:
            self.csat.labels(str(case.csat)).inc()

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def timed(request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
            if request.method != "POST":
                return await handler(request)
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                route = request.match_info.route.resource
                template = route.canonical if route is not None else "unmatched"
                self.webhook_ack_seconds.labels(template, str(status)).observe(
                    time.perf_counter() - started)
        return timed

    def handler(self, token: str | None) -> Callable[[web.Request], Awaitable[web.Response]]:
        expected = f"Bearer {token}".encode() if token else None

        async def metrics(request: web.Request) -> web.Response:
            if expected is None:
                raise web.HTTPNotFound(text="metrics are off (set METRICS_TOKEN)")
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise web.HTTPUnauthorized(text="a bearer token is needed",
                                           headers={"WWW-Authenticate": "Bearer"})
            return web.Response(body=generate_latest(self.registry),
                                headers={"Content-Type": CONTENT_TYPE_LATEST})
        return metrics
