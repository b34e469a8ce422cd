"""Composes the gateway application: stores, the Rasa client, the engine, the handoff desk, the
erasure flow and every configured channel. The one place that knows everything."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, AsyncIterator, Mapping

from aiohttp import web

from analytics.config import Broker
from analytics.pseudonyms import ENV, pseudonyms_from_env
from analytics.alerts import AlertWatcher
from analytics.spikes import Spike
from analytics.store import AnalyticsStore
from analytics.views import AnalyticsViews
from bot.analytics_events import GatewayEvents, OutboxSink, Sink, StoreSink
from bot.availability import Availability, OpeningHours
from bot.cases import CaseDesk
from bot.customers import CustomerDirectory
from bot.engine import ConversationEngine
from bot.erasure import Erasure
from bot.escalation import DEFAULT_RULES_FILE, EscalationPolicy
from bot.handoff import handoff_app
from bot.metrics import GatewayMetrics
from bot.rasa_pool import RasaPool
from bot.settings import Settings, SettingsError
from bot.stores import Stores, redis_stores, sqlite_stores
from bot.tracker_storage import TrackerRetention
from channels.registry import all_facts, build_channels
from inbox.console import mount_console
from inbox.dashboard import ALERTS_TOPIC
from inbox.slack_inbox import attach as attach_slack_inbox

log = logging.getLogger(__name__)

SETTINGS_KEY = web.AppKey("settings", Settings)
ENGINE_KEY = web.AppKey("engine", ConversationEngine)
STORES_KEY = web.AppKey("stores", Stores)
DESK_KEY = web.AppKey("desk", CaseDesk)
RASA_KEY = web.AppKey("rasa", RasaPool)
ERASURE_KEY = web.AppKey("erasure", Erasure)
ALERTS_KEY = web.AppKey("alerts", AlertWatcher)


def build_analytics(settings: Settings, stores: Stores) -> GatewayEvents | None:
    """Where the gateway's case events go (ANALYTICS_BROKER; docs/analytics.md)."""
    if settings.analytics_broker is Broker.NONE:
        return None
    if not settings.analytics_broker_url:
        raise SettingsError("ANALYTICS_BROKER_URL is needed with ANALYTICS_BROKER="
                            f"{settings.analytics_broker}")
    pseudonyms = pseudonyms_from_env(
        {ENV: settings.analytics_pseudonym_key or ""})
    sink: Sink
    if settings.analytics_broker is Broker.STORE:
        sink = StoreSink(AnalyticsStore(settings.analytics_broker_url), pseudonyms)
    else:
        sink = OutboxSink(settings.analytics_broker_url, stores.kv, pseudonyms)
    return GatewayEvents(sink, pseudonyms)


def build_stores(settings: Settings) -> Stores:
    if settings.redis_url:
        return redis_stores(settings.redis_url, prefix=settings.redis_prefix,
                            retention=settings.retention)
    return sqlite_stores(settings.database, retention=settings.retention)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "stores": request.app[STORES_KEY].kind})


def create_app(settings: Settings, *, stores: Stores | None = None,
               env: Mapping[str, str] | None = None,
               tracker: Any | None = None) -> web.Application:
    """`tracker`: the storage of Rasa's trackers for erasure (default: from settings). Stores
    passed in stay the caller's to close (a test restarts a gateway on the same stores)."""
    env = os.environ if env is None else env
    owns_stores = stores is None
    stores = stores or build_stores(settings)
    rasa = RasaPool.from_urls(settings.rasa_urls, token=settings.rasa_token,
                              timeout_s=settings.rasa_timeout_s)
    availability = Availability(
        hours=OpeningHours.parse(settings.agent_hours, settings.agent_timezone),
        presence_required=settings.agent_presence_required)
    desk = CaseDesk(stores, availability=availability)
    escalation = EscalationPolicy.load(
        Path(settings.escalation_rules_file) if settings.escalation_rules_file else DEFAULT_RULES_FILE)
    customers = (CustomerDirectory(base_url=settings.customers_api_url,
                                   token=settings.backend_api_token)
                 if settings.customers_api_url else None)
    if tracker is None and settings.tracker_store is not None:
        tracker = settings.tracker_store.open(retention=TrackerRetention(
            retention_s=settings.retention.conversations_s))
    forgetters: dict[str, Any] = {}
    analytics = build_analytics(settings, stores)
    metrics = GatewayMetrics()
    desk.subscribe(metrics)
    if analytics is not None:
        desk.subscribe(analytics)
    erasure = Erasure(stores, desk, tracker=tracker, channels=forgetters, analytics=analytics)
    facts = all_facts()
    engine = ConversationEngine(settings=settings, stores=stores, rasa=rasa, desk=desk,
                                escalation=escalation, customers=customers, erasure=erasure,
                                channel_facts=facts, metrics=metrics, analytics=analytics)

    app = web.Application(middlewares=[metrics.middleware()])
    app[SETTINGS_KEY] = settings
    app[STORES_KEY] = stores
    app[ENGINE_KEY] = engine
    app[DESK_KEY] = desk
    app[RASA_KEY] = rasa
    app[ERASURE_KEY] = erasure

    channels = build_channels(engine.intake_for, env)
    for channel in channels:
        channel.mount(app)
        engine.register(channel)
        if hasattr(channel, "forget"):
            forgetters[channel.name] = channel
    reading = (AnalyticsStore(settings.analytics_db_url, retention_s=settings.retention.analytics_s)
               if settings.analytics_db_url else None)
    mount_console(app, desk=desk, stores=stores, rasa=rasa, settings=settings, env=env,
                  channel_facts=facts,
                  analytics=AnalyticsViews(reading) if reading is not None else None,
                  relabel=analytics.relabel if analytics is not None else None)
    watcher = AlertWatcher(reading, stores.idempotency) if reading is not None else None
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics.handler(settings.metrics_token))
    app.add_subapp("/handoff/", handoff_app(desk, settings.handoff_secret))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await stores.start()
        if analytics is not None:
            await analytics.start()
        await rasa.open()
        if customers is not None:
            await customers.open()
        for channel in channels:
            await channel.start()
        await engine.start()
        if watcher is not None:
            watcher.start()
        log.info("%s", settings.describe())
        yield
        if watcher is not None:
            await watcher.close()
        await engine.close()
        for channel in channels:
            await channel.close()
        await rasa.close()
        if customers is not None:
            await customers.close()
        if tracker is not None and hasattr(tracker, "close"):
            await tracker.close()
        if analytics is not None:
            await analytics.close()
        if reading is not None:
            await reading.close()
        if owns_stores:
            await stores.close()

    app.cleanup_ctx.append(lifecycle)
    slack_inbox = attach_slack_inbox(app, desk, stores, channels, env, channel_facts=facts,
                                     relabel=analytics.relabel if analytics is not None else None)
    if watcher is not None:
        app[ALERTS_KEY] = watcher

        async def to_consoles(spike: Spike) -> None:  # every instance's leads, over the bus
            await stores.bus.publish(ALERTS_TOPIC, {
                "signal": spike.signal, "text": spike.describe(), "count": spike.count,
                "baseline": spike.baseline, "examples": list(spike.examples)})
        watcher.notify(to_consoles)
        if slack_inbox is not None:
            inbox = slack_inbox

            async def to_slack(spike: Spike) -> None:
                await inbox.post_alert(spike.describe(), spike.examples)
            watcher.notify(to_slack)
    return app
