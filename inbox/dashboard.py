"""The leads' dashboard in the agent console: the figures and charts of docs/analytics.md, the
conversations the quality flags picked out (each with its reasons and transcript, to mark
reviewed) and the spike alerts. Only accounts with the lead role may open it.

  GET  /console/dashboard                                     the page (dashboard_static/)
  GET  /console/api/dashboard?days=7&channel=web              figures, flagged, alerts
  GET  /console/api/dashboard/conversations/{c}?started_at=   one flagged conversation
  POST /console/api/dashboard/conversations/{c}/reviewed      {started_at}
Alerts reach open dashboards live over the console's websocket ({"type": "alert"})."""

from __future__ import annotations

import math
import re
from typing import Any

from aiohttp import web

from analytics.views import AnalyticsViews
from inbox.agents import Agent
from inbox.console_auth import ApiError, ConsoleAuth, check_origin
from inbox.console_views import AuditTrail

_PSEUDONYM = re.compile(r"^[0-9a-f]{24}$")
_CHANNEL = re.compile(r"^[a-z_]{1,32}$")
ALERTS_TOPIC = "analytics-alerts"


class Dashboard:
    def __init__(self, *, auth: ConsoleAuth, audit: AuditTrail,
                 views: AnalyticsViews | None) -> None:
        self._auth = auth
        self._audit = audit
        self._views = views

    async def _lead(self, request: web.Request) -> tuple[Agent, AnalyticsViews]:
        agent, _ = await self._auth.session(request)
        if not agent.is_lead:
            raise ApiError(403, "not_a_lead", "The dashboard is for team leads.")
        if self._views is None:
            raise ApiError(404, "analytics_off",
                           "Analytics are off (set ANALYTICS_BROKER and ANALYTICS_DB_URL).")
        return agent, self._views

    async def figures(self, request: web.Request) -> web.Response:
        _, views = await self._lead(request)
        try:
            days = int(request.query.get("days", "7"))
        except ValueError:
            raise ApiError(400, "bad_request", "days must be a whole number") from None
        channel = request.query.get("channel") or None
        if channel is not None and not _CHANNEL.match(channel):
            raise ApiError(400, "bad_request", "unknown channel")
        return web.json_response(await views.dashboard(days=days, channel=channel))

    def _conversation(self, request: web.Request, started: Any) -> tuple[str, float]:
        conversation = request.match_info["conversation"]
        try:
            started_at = float(started)
        except (TypeError, ValueError):
            raise ApiError(400, "bad_request", "started_at must be a number") from None
        if not _PSEUDONYM.match(conversation) or not math.isfinite(started_at):
            raise ApiError(404, "not_found", "There is no such conversation.")
        return conversation, started_at

    async def conversation(self, request: web.Request) -> web.Response:
        agent, views = await self._lead(request)
        conversation, started_at = self._conversation(request, request.query.get("started_at"))
        transcript = await views.transcript(conversation, started_at)
        if transcript is None:
            raise ApiError(404, "not_found", "There is no such conversation.")
        await self._audit.record(agent.email, "quality_view",
                                 detail={"conversation": conversation})
        return web.json_response({"conversation": conversation, "started_at": started_at,
                                  "transcript": transcript})

    async def reviewed(self, request: web.Request) -> web.Response:
        from inbox.console import json_body

        agent, views = await self._lead(request)
        check_origin(request)
        body = await json_body(request)
        conversation, started_at = self._conversation(request, body.get("started_at"))
        await views.mark_reviewed(conversation, started_at, agent.email)
        await self._audit.record(agent.email, "quality_reviewed",
                                 detail={"conversation": conversation})
        return web.json_response({"ok": True})

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", "/api/dashboard", self.figures),
                ("GET", "/api/dashboard/conversations/{conversation}", self.conversation),
                ("POST", "/api/dashboard/conversations/{conversation}/reviewed", self.reviewed)]
