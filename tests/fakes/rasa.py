"""A fake Rasa 3.6 server for gateway tests that are not about NLU, strict where the gateway
depends on Rasa's behaviour:

- one lock per conversation, held for a whole turn and shared by the REST channel, the tracker
  events API and trigger_intent (rasa/server.py and rasa/core/agent.py). The handoff intent runs
  "action_handoff_to_human" inside that lock, as the action server does: it builds the context
  package and POSTs it to the gateway's handoff endpoint with the production HandoffClient (5 s
  timeout), then pauses the tracker (ConversationPaused). So a gateway that calls back into Rasa
  for the same conversation from inside the turn blocks, as it really would;
- the auth token checked on the HTTP API (/status, /conversations/..., /model/parse; 401 without
  it) and not on the REST channel, which takes none;
- conversation ids taken from the raw path, undecoded, as Sanic 21.12 does (a percent-encoded id
  is another conversation);
- a paused tracker answers nothing and runs no action; events are recorded like a tracker, with
  the message metadata, so the gateway can look a turn up after a crash;
- malformed bodies answered 400 like Rasa (not crashing the fake)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

from actions.handoff_client import HandoffClient
from bot.handoff_package import build_package
from actions.http_client import BackendError

TOKEN = "fake-rasa-token"
HANDOFF_TEXT = "/human_handoff"
EXTERNAL = "EXTERNAL: "

Reply = list[dict[str, Any]]


def default_replies(text: str) -> Reply:
    if text == "hello":
        return [{"text": "Hi! I'm an automated assistant.", "buttons": [
            {"title": "Track my order", "payload": "/order_status"},
            {"title": "Talk to a person", "payload": "/human_handoff"}]}]
    return [{"text": f"You said: {text}"}]


def default_intent(text: str) -> str:
    if text == HANDOFF_TEXT:
        return "human_handoff"
    if "parcel" in text or "order" in text:
        return "order_status"
    return "inform"


@dataclass
class HandoffCall:
    conversation_id: str
    package: dict[str, Any]
    receipt: dict[str, Any] | None
    error: str | None
    seconds: float


@dataclass
class FakeRasa:
    replies: Callable[[str], Reply] = default_replies
    intent_of: Callable[[str], str] = default_intent
    token: str = TOKEN
    delay_s: float = 0.0
    down: bool = False
    # Where the handoff action opens cases (set once the gateway runs); None: the inbox is
    # unreachable and the action says so, as the real one does.
    gateway_url: str | None = None
    handoff_secret: str = ""
    handoff_timeout_s: float = 5.0
    handoff_reply_when_failed: str = "Sorry, I couldn't reach our support team just now."
    trackers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    paused: set[str] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)  # REST channel bodies
    completed: list[dict[str, Any]] = field(default_factory=list)  # ...whose turn finished
    api_events: list[tuple[str, Any]] = field(default_factory=list)  # appended via the API
    triggered: list[tuple[str, str, Any]] = field(default_factory=list)
    handoff_calls: list[HandoffCall] = field(default_factory=list)
    refused: int = 0  # HTTP API calls without the right token
    turns_running: dict[str, int] = field(default_factory=dict)
    # Requests for a conversation that arrived while another of its turns was running: Rasa
    # queues them on its lock, but a gateway should never send them (one turn at a time).
    overlaps: int = 0
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    # --- what tests read -----------------------------------------------------------------
    def texts(self) -> list[str]:
        return [r["message"] for r in self.received]

    def texts_of(self, conversation_id: str) -> list[str]:
        return [r["message"] for r in self.received if r["sender"] == conversation_id]

    def tracker_events_of(self, conversation_id: str) -> list[str]:
        """The pause/resume events the gateway appended to this conversation's tracker."""
        return [e["event"] for cid, events in self.api_events if cid == conversation_id
                for e in (events if isinstance(events, list) else [events])
                if e.get("event") in ("pause", "resume")]

    def lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    # --- the server ----------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_get("/status", self._status)
        app.router.add_post("/model/parse", self._parse)
        app.router.add_route("*", "/conversations/{rest:.+}", self._conversations)
        return app

    @web.middleware
    async def _auth(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.path != "/webhooks/rest/webhook" and request.query.get("token") != self.token:
            self.refused += 1
            return web.json_response({"status": "failure", "reason": "NotAuthenticated",
                                      "code": 401}, status=401)
        return await handler(request)

    async def _body(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read())
        except ValueError:
            raise web.HTTPBadRequest(text="BadRequest") from None

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(status=503) if self.down else web.json_response({"model_file": "fake"})

    async def _parse(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        text = str((await self._body(request)).get("text") or "")
        return web.json_response(self.parse(text))

    def parse(self, text: str) -> dict[str, Any]:
        return {"text": text, "intent": {"name": self.intent_of(text), "confidence": 0.95},
                "entities": []}

    async def _webhook(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        body = await self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            raise web.HTTPBadRequest(text="BadRequest")
        sender = str(body.get("sender") or "default")
        async with self._turn(sender):
            self.received.append(body)
            text, metadata = body["message"], body.get("metadata") or {}
            # Rasa saves the tracker at the end of a turn: a turn cut short (its client went
            # away) leaves no trace, like the real one.
            turn = [{"event": "user", "text": text, "metadata": metadata,
                     "parse_data": self.parse(text)}]
            if sender in self.paused:
                self._commit(sender, turn)
                return web.json_response([])  # a paused conversation: no prediction at all
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if text == HANDOFF_TEXT:
                self._commit(sender, turn)
                turn = []
                replies = [{"text": await self.handoff_action(sender, metadata)}]
            else:
                replies = self.replies(text)
            turn += [{"event": "bot", "text": reply.get("text"),
                      "data": {k: v for k, v in reply.items() if k != "text"}}
                     for reply in replies]
            self._commit(sender, turn)
            self.completed.append(body)
        return web.json_response([{"recipient_id": sender, **r} for r in replies])

    async def _conversations(self, request: web.Request) -> web.StreamResponse:
        raw = request.raw_path.split("?", 1)[0][len("/conversations/"):]
        for suffix, handler in (("/tracker/events", self._append_events),
                                ("/trigger_intent", self._trigger),
                                ("/tracker", self._tracker)):
            if raw.endswith(suffix):
                return await handler(request, raw[:-len(suffix)])  # undecoded, like Sanic
        raise web.HTTPNotFound()

    async def _tracker(self, request: web.Request, cid: str) -> web.Response:
        if self.down:
            return web.Response(status=503)
        return web.json_response(self._state(cid))

    async def _append_events(self, request: web.Request, cid: str) -> web.Response:
        if self.down:
            return web.Response(status=503)
        body = await self._body(request)
        events = body if isinstance(body, list) else [body]
        if not all(isinstance(e, dict) and isinstance(e.get("event"), str) for e in events):
            raise web.HTTPBadRequest(text="BadRequest")
        if not events:  # Rasa 3.6: "Couldn't extract a proper event from the request body"
            return web.json_response({"status": "failure", "reason": "ConversationError",
                                      "code": 500}, status=500)
        async with self._turn(cid):
            self.api_events.append((cid, body))
            for event in events:
                self._record(cid, event)
                if event["event"] == "pause":
                    self.paused.add(cid)
                elif event["event"] == "resume":
                    self.paused.discard(cid)
            return web.json_response(self._state(cid))

    async def _trigger(self, request: web.Request, cid: str) -> web.Response:
        if self.down:
            return web.Response(status=503)
        body = await self._body(request)
        async with self._turn(cid):
            self.triggered.append((cid, body["name"], body.get("entities")))
            self._record(cid, {"event": "user", "text": EXTERNAL + body["name"],
                               "parse_data": {"intent": {"name": body["name"],
                                                         "confidence": 1.0}}})
            messages: list[dict[str, Any]] = []
            if body["name"] == "human_handoff" and cid not in self.paused:
                metadata = next((e.get("metadata") for e in reversed(self.trackers[cid])
                                 if e.get("event") == "user" and e.get("metadata")), {})
                text = await self.handoff_action(cid, metadata or {},
                                                 trigger=(body.get("entities") or {}).get(
                                                     "handoff_trigger"))
                messages = [{"recipient_id": cid, "text": text}]
                self._record(cid, {"event": "bot", "text": text, "data": {}})
            return web.json_response({"tracker": self._state(cid), "messages": messages})

    # --- the handoff action ----------------------------------------------------------------
    async def handoff_action(self, sender: str, metadata: dict[str, Any], *,
                             trigger: dict[str, Any] | None = None) -> str:
        """What action_handoff_to_human does, run while this conversation's lock is held."""
        kind = (trigger or {}).get("kind") or "customer_request"
        package = build_package(
            conversation_id=sender, channel=str(metadata.get("channel") or "web"),
            customer_id=str(metadata.get("customer_id") or sender),
            events=list(self.trackers.get(sender, [])), slots={}, steps_tried=[],
            trigger_kind=str(kind),
            trigger_detail=str((trigger or {}).get("detail") or "customer asked for a person"),
            last_customer_text=(trigger or {}).get("message"))
        if self.gateway_url is None:
            return self.handoff_reply_when_failed
        client = HandoffClient(url=f"{self.gateway_url}/handoff/v1/cases",
                               secret=self.handoff_secret, timeout_s=self.handoff_timeout_s)
        started = time.monotonic()
        try:
            receipt = await client.open_case(package)
        except BackendError as exc:
            self.handoff_calls.append(HandoffCall(sender, package, None, str(exc),
                                                  time.monotonic() - started))
            return self.handoff_reply_when_failed
        self.handoff_calls.append(HandoffCall(sender, package, dataclasses.asdict(receipt), None,
                                              time.monotonic() - started))
        self.paused.add(sender)  # the action returns ConversationPaused
        return receipt.customer_message

    @property
    def packages(self) -> list[dict[str, Any]]:
        return [c.package for c in self.handoff_calls if c.receipt is not None]

    # --- helpers -------------------------------------------------------------------------
    def _turn(self, conversation_id: str) -> _Turn:
        return _Turn(self, conversation_id)

    def _record(self, cid: str, event: dict[str, Any]) -> None:
        self.trackers.setdefault(cid, []).append({**event, "timestamp": time.time()})

    def _commit(self, cid: str, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._record(cid, event)

    def _state(self, cid: str) -> dict[str, Any]:
        return {"sender_id": cid, "paused": cid in self.paused,
                "events": list(self.trackers.get(cid, []))}


class _Turn:
    """Rasa's conversation lock, counting turns that are running (tests assert on it)."""

    def __init__(self, rasa: FakeRasa, conversation_id: str) -> None:
        self._rasa, self._cid = rasa, conversation_id

    async def __aenter__(self) -> None:
        if self._rasa.lock(self._cid).locked():
            self._rasa.overlaps += 1
        await self._rasa.lock(self._cid).acquire()
        self._rasa.turns_running[self._cid] = self._rasa.turns_running.get(self._cid, 0) + 1

    async def __aexit__(self, *exc: object) -> None:
        self._rasa.turns_running[self._cid] -= 1
        self._rasa.lock(self._cid).release()
