"""A fake Rasa server (REST channel + /status) for gateway tests that are not about NLU."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

Reply = list[dict[str, Any]]


def default_replies(text: str) -> Reply:
    if text == "hello":
        return [{"text": "Hi! I'm an automated assistant.", "buttons": [
            {"title": "Track my order", "payload": "/order_status"},
            {"title": "Talk to a person", "payload": "/human_handoff"}]}]
    return [{"text": f"You said: {text}"}]


@dataclass
class FakeRasa:
    replies: Callable[[str], Reply] = default_replies
    delay_s: float = 0.0
    down: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    tracker_events: list[tuple[str, Any]] = field(default_factory=list)
    triggered: list[tuple[str, str, Any]] = field(default_factory=list)
    handoff_reply: str = "I've passed our conversation to our support team."

    def texts(self) -> list[str]:
        return [r["message"] for r in self.received]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_get("/status", self._status)
        app.router.add_post("/conversations/{cid}/tracker/events", self._events)
        app.router.add_post("/conversations/{cid}/trigger_intent", self._trigger)
        return app

    async def _events(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        self.tracker_events.append((request.match_info["cid"], await request.json()))
        return web.json_response({"events": []})

    async def _trigger(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        body = await request.json()
        self.triggered.append((request.match_info["cid"], body["name"], body.get("entities")))
        return web.json_response({"tracker": {}, "messages": [
            {"recipient_id": request.match_info["cid"], "text": self.handoff_reply}]})

    async def _webhook(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        body = await request.json()
        self.received.append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.json_response(
            [{"recipient_id": body["sender"], **r} for r in self.replies(body["message"])])

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(status=503) if self.down else web.json_response({"model_file": "fake"})
