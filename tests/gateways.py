"""Starting the real gateway app (bot.app.create_app) on loopback for tests and benchmarks, wired
to a fake Rasa the way production is wired to Rasa: its token for the HTTP API, and the gateway's
handoff endpoint (with the shared secret) for the fake's handoff action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from aiohttp import web

from bot.app import DESK_KEY, ENGINE_KEY, create_app
from bot.cases import CaseDesk
from bot.engine import ConversationEngine
from bot.settings import Settings
from bot.stores import Stores
from tests.fakes.rasa import FakeRasa
from tests.serving import Stop, start_app

HANDOFF_SECRET = "test-handoff-secret"


@dataclass
class Running:
    url: str
    app: web.Application
    stores: Stores
    stop: Stop

    @property
    def engine(self) -> ConversationEngine:
        return self.app[ENGINE_KEY]

    @property
    def desk(self) -> CaseDesk:
        return self.app[DESK_KEY]


def settings_for(rasa: FakeRasa, rasa_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"rasa_url": rasa_url, "rasa_token": rasa.token,
                              "handoff_secret": HANDOFF_SECRET, "rasa_timeout_s": 5.0,
                              "pending_retry_interval_s": 0.2, "shutdown_grace_s": 2.0}
    values.update(overrides)
    return Settings(**values)


async def start_gateway(rasa: FakeRasa, rasa_url: str, *, stores: Stores,
                        env: Mapping[str, str] | None = None, tracker: Any = None,
                        **settings: Any) -> Running:
    config = settings_for(rasa, rasa_url, **settings)
    app = create_app(config, stores=stores, env=dict(env or {}), tracker=tracker)
    url, stop = await start_app(app)
    rasa.gateway_url, rasa.handoff_secret = url, config.handoff_secret or ""
    return Running(url=url, app=app, stores=stores, stop=stop)
