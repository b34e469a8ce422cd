"""The console's live hub: one websocket per open console, case events pushed to every agent,
the watched case's transcript pushed as it changes, presence.

Websocket protocol (JSON text frames):
  server -> agent  {"type": "hello", "agent": {email, name}, "online": [email...]}
                   {"type": "presence", "online": [email...]}
                   {"type": "event", "kind": opened|customer_message|agent_message|claimed|
                    returned|resolved|cancelled|rated|follow_up_contact|undelivered, "case_id",
                    "status", "channel", "trigger", "actor", "actor_name", "text" (customer
                    messages, and why a message was undelivered)}
                   {"type": "transcript", "case_id", "case": <card>, "entries": [...]}
                   {"type": "resync"}   updates were missed: reload the queue
                   {"type": "pong"}
  agent -> server  {"type": "watch", "case_id": <id or null>}   live transcript of one case
                   {"type": "ping"}
  Close code 4401: the session ended (signed out or expired)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import WSCloseCode, WSMsgType, web

from bot.http_origin import origin_allowed
from bot.inbox_port import CaseEvent, CaseEventKind, Desk
from bot.safe_json import BadJson, loads
from inbox.agents import Agent
from inbox.console_auth import ApiError, ConsoleAuth
from inbox.console_views import AuditTrail, CaseViews

log = logging.getLogger(__name__)

MAX_WS_FRAME = 16 * 1024
SESSION_RECHECK_S = 60.0
CLIENT_QUEUE = 500
CLOSE_SESSION_ENDED = 4401
CASE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(eq=False)
class Client:
    """One open console websocket: its agent, its session, what it watches, its send queue."""

    ws: web.WebSocketResponse
    agent: Agent
    session_key: str
    watching: str | None = None
    # False for a lead's dashboard: it gets alerts, and does not make its agent available for
    # handoffs (only the cases console does).
    present: bool = True
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=CLIENT_QUEUE))

    def push(self, frame: dict[str, Any] | None) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:  # a stalled browser: drop it, it reloads when it reconnects
            log.warning("console socket of %s is not reading; closing it", self.agent.email)
            asyncio.ensure_future(self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER))


class LiveHub:
    def __init__(self, *, desk: Desk, auth: ConsoleAuth, views: CaseViews, audit: AuditTrail,
                 clock: Callable[[], float]) -> None:
        self.desk = desk
        self.auth = auth
        self.views = views
        self.audit = audit
        self.clock = clock
        self.clients: set[Client] = set()
        self.session_recheck_s = SESSION_RECHECK_S
        # Presence is shared through the stores, so a handoff on another gateway instance knows
        # someone is here (AGENT_PRESENCE_REQUIRED).
        self._instance = secrets.token_hex(6)

    def online(self) -> list[str]:
        return sorted({c.agent.email for c in self.clients if c.present})

    # --- what is pushed ---------------------------------------------------------------------
    async def on_case_event(self, event: CaseEvent) -> None:
        case = event.case
        case_id = case.case_id
        frame = {"type": "event", "kind": str(event.kind), "case_id": case_id,
                 "status": str(case.status), "channel": case.channel,
                 "trigger": case.trigger.get("kind"),
                 "actor": event.actor, "actor_name": self.views.agent_name(event.actor),
                 "text": event.text if event.kind in (CaseEventKind.CUSTOMER_MESSAGE,
                                                      CaseEventKind.UNDELIVERED) else None,
                 "ts": self.clock()}
        for client in list(self.clients):
            client.push(frame)
        await self.push_transcript(case_id)

    async def resync(self) -> None:
        """Case events published while the bus was away never arrived: every open console
        reloads its queue, and the watched transcripts are sent again."""
        for client in list(self.clients):
            client.push({"type": "resync"})
        for case_id in {c.watching for c in self.clients if c.watching}:
            await self.push_transcript(case_id)

    async def push_transcript(self, case_id: str) -> None:
        """Send the watched case's transcript (and state) to the agents who have it open."""
        watchers = [c for c in self.clients if c.watching == case_id]
        if not watchers:
            return
        case = await self.desk.get(case_id)
        if case is None:
            return
        frame = {"type": "transcript", "case_id": case_id, "case": await self.views.card(case),
                 "entries": await self.views.transcript(case)}
        for client in watchers:
            client.push(frame)

    async def push_alert(self, alert: dict[str, Any]) -> None:
        """A spike alert (from the stores' bus, so every instance's leads see it)."""
        frame = {"type": "alert", "alert": alert}
        for client in [c for c in self.clients if c.agent.is_lead]:
            client.push(frame)

    def _broadcast_presence(self) -> None:
        frame = {"type": "presence", "online": self.online()}
        for client in list(self.clients):
            client.push(frame)

    # --- sockets ---------------------------------------------------------------------------
    async def websocket(self, request: web.Request) -> web.StreamResponse:
        agent, key = await self.auth.session(request)
        if not origin_allowed(request, required=False):
            raise ApiError(403, "bad_origin", "Cross-site requests are not allowed.")
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_WS_FRAME)
        await ws.prepare(request)
        client = Client(ws=ws, agent=agent, session_key=key,
                        present=request.query.get("purpose") != "dashboard")
        self.clients.add(client)
        if client.present:
            self.desk.availability.agent_online(agent.email)
            await self.desk.agent_present(agent.email, self._instance)
        writer = asyncio.create_task(self._writer(client), name=f"console ws {agent.email}")
        client.push({"type": "hello", "agent": agent.public(), "online": self.online()})
        self._broadcast_presence()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = loads(message.data)
                except BadJson:
                    continue
                if not isinstance(data, dict):
                    continue
                if data.get("type") == "ping":
                    client.push({"type": "pong"})
                elif data.get("type") == "watch":
                    await self._watch(client, data.get("case_id"))
        finally:
            self.clients.discard(client)
            if client.present:
                self.desk.availability.agent_offline(agent.email)
                if not any(c.agent.email == agent.email and c.present for c in self.clients):
                    await self.desk.agent_left(agent.email, self._instance)
            client.push(None)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            self._broadcast_presence()
        return ws

    async def _watch(self, client: Client, case_id: Any) -> None:
        if not isinstance(case_id, str) or not CASE_ID.match(case_id):
            client.watching = None
            return
        case = await self.desk.get(case_id)
        if case is None:
            client.watching = None
            return
        if self.audit.first_view(client.agent.email, case_id):
            # reading a transcript live is a view, like opening it
            await self.audit.record(client.agent.email, "view", case_id, {"via": "live"})
        client.watching = case_id
        await self.push_transcript(case_id)

    async def _writer(self, client: Client) -> None:
        while True:
            try:
                async with asyncio.timeout(self.session_recheck_s):  # not wait_for: see drain
                    frame = await client.queue.get()
            except TimeoutError:
                if await self.auth.agent_of_key(client.session_key) is None:
                    await client.ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
                    return
                if client.present:
                    await self.desk.agent_present(client.agent.email, self._instance)
                continue
            if frame is None or client.ws.closed:
                return
            try:
                await client.ws.send_str(json.dumps(frame))
            except (ConnectionResetError, RuntimeError):
                return

    async def end_session(self, key: str) -> None:
        """The session was ended: its sockets close (the page shows the sign-in form)."""
        for client in [c for c in self.clients if c.session_key == key]:
            await client.ws.close(code=CLOSE_SESSION_ENDED, message=b"signed out")

    async def close(self) -> None:
        for client in list(self.clients):
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
