"""The web agent console: where people sign in, see the handoff queue live, read a case's context
package and transcript, claim it, reply, hand it back to the bot or resolve it.

Mounted on the gateway under /console (see mount_console):
  GET  /console/                         the single-page console (console_static/)
  POST /console/api/login                {email, password} -> session cookie
  POST /console/api/logout
  GET  /console/api/me
  GET  /console/api/cases                the queue: waiting (follow-ups, then queued), mine,
                                         teammates' active cases, recently closed
  GET  /console/api/cases/{id}           context package + live transcript (audited as a view)
  POST /console/api/cases/{id}/claim
  POST /console/api/cases/{id}/reply     {text}
  POST /console/api/cases/{id}/return    back to the bot
  POST /console/api/cases/{id}/resolve   the customer is asked for a 1-5 rating
  GET  /console/api/cases/{id}/suggestions
  GET  /console/api/audit                recent audit entries, newest first
  GET  /console/ws                       live queue events and the watched case's transcript

Security: every API and websocket request needs a valid session (401 otherwise); the session is
an unguessable token in an HttpOnly, SameSite=Strict cookie, stored hashed in stores.sessions
under "agent:" for 12 hours. POSTs must come from the console's own origin (Origin header, CSRF).
Five failed sign-ins for one e-mail within 15 minutes lock that e-mail for 15 minutes: for
configured accounts in the stores (kv namespace console-login, shared by every gateway instance
with Redis), for unknown e-mails in a bounded in-memory table (same answers either way, so the
lockout does not reveal which accounts exist). One client address with twenty failures within 15
minutes is refused for 15 minutes whatever e-mail it tries (kv namespace console-client), so
spraying passwords over many accounts is throttled too.

Websocket protocol (JSON text frames):
  server -> agent  {"type": "hello", "agent": {email, name}, "online": [email...]}
                   {"type": "presence", "online": [email...]}
                   {"type": "event", "kind": opened|customer_message|agent_message|claimed|
                    returned|resolved|cancelled|rated|follow_up_contact, "case_id", "status",
                    "channel", "trigger", "actor", "actor_name", "text" (customer messages only)}
                   {"type": "transcript", "case_id", "case": <card>, "entries": [...]}
                   {"type": "pong"}
  agent -> server  {"type": "watch", "case_id": <id or null>}   live transcript of one case
                   {"type": "ping"}
  Close code 4401: the session ended (signed out or expired).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import WSCloseCode, WSMsgType, web

from bot.http_bodies import read_json
from bot.http_origin import is_https, origin_allowed
from bot.inbox_port import (CLOSED, UNKNOWN, Case, CaseConflict, CaseEvent, CaseEventKind,
                            CaseNotFound, CaseStatus, ChannelFacts, Desk, InboxStores, facts_of)
from bot.safe_json import BadJson, loads
from inbox.agents import Agent, check_login, load_accounts, normalise_email
from inbox.customer_label import customer_label
from inbox.reply_window import closed_reason, reply_until
from inbox.suggestions import Parser, faq_answers, suggest

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "console_static"
COOKIE = "nw_agent_session"
SESSION_TTL_S = 12 * 3600
SESSION_NAMESPACE = "agent:"
FAILURE_WINDOW_S = 15 * 60
MAX_FAILURES = 5
LOCKOUT_S = 15 * 60
MAX_REPLY_CHARS = 4000
MAX_BODY_BYTES = 64 * 1024
MAX_WS_FRAME = 16 * 1024
RECENT_CLOSED = 25
SCAN_CASES = 300
SESSION_RECHECK_S = 60.0
CLIENT_QUEUE = 500
CLOSE_SESSION_ENDED = 4401
_CASE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
LOGIN_FAILURES = "console-login"  # kv namespace: failed sign-ins per configured account
CLIENT_FAILURES = "console-client"  # kv namespace: failed sign-ins per client address
MAX_CLIENT_FAILURES = 20  # per client and FAILURE_WINDOW_S, whichever accounts it tries

CONSOLE_KEY = web.AppKey("agent_console", "AgentConsole")

API_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> web.Response:
        return web.json_response({"error": self.code, "message": self.message, **self.extra},
                                 status=self.status)


def _unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Sign in to use the agent console.")


@dataclass(eq=False)
class _Client:
    """One open console websocket: its agent, its session, what it watches, its send queue."""

    ws: web.WebSocketResponse
    agent: Agent
    session_key: str
    watching: str | None = None
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=CLIENT_QUEUE))

    def push(self, frame: dict[str, Any] | None) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:  # a stalled browser: drop it, it reloads when it reconnects
            log.warning("console socket of %s is not reading; closing it", self.agent.email)
            asyncio.ensure_future(self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER))


class AgentConsole:
    def __init__(self, *, desk: Desk, stores: InboxStores, rasa: Parser,
                 accounts: Mapping[str, Agent], clock: Callable[[], float] = time.time,
                 faq: dict[str, str] | None = None, trust_forwarded_for: bool = False,
                 channel_facts: Mapping[str, ChannelFacts] | None = None) -> None:
        self.desk = desk
        self._facts = dict(channel_facts or {})
        self.stores = stores
        self.rasa = rasa
        self.accounts = dict(accounts)
        self.clock = clock
        self._faq = faq
        self.trust_forwarded_for = trust_forwarded_for
        self._clients: set[_Client] = set()
        self._unknown_failures: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._viewed: dict[str, set[str]] = {}
        # scrypt is deliberately costly: a flood of sign-ins queues here instead of taking every
        # worker thread (and the CPU) from the rest of the gateway.
        self._password_checks = asyncio.Semaphore(2)
        self.session_recheck_s = SESSION_RECHECK_S
        # Presence is shared through the stores, so a handoff on another gateway instance knows
        # someone is here (AGENT_PRESENCE_REQUIRED).
        self._instance = secrets.token_hex(6)

    # --- sessions --------------------------------------------------------------------------
    @staticmethod
    def _session_key(token: str) -> str:
        # Stored hashed: a dump of the session store holds nothing that signs anyone in.
        return SESSION_NAMESPACE + hashlib.sha256(token.encode()).hexdigest()

    async def create_session(self, agent: Agent) -> str:
        token = secrets.token_urlsafe(32)
        await self.stores.sessions.put(self._session_key(token), SESSION_NAMESPACE + agent.email,
                                       ttl_s=SESSION_TTL_S)
        return token

    async def _agent_of_key(self, key: str) -> Agent | None:
        value = await self.stores.sessions.get(key)
        if not value or not value.startswith(SESSION_NAMESPACE):
            return None
        return self.accounts.get(value[len(SESSION_NAMESPACE):])

    async def session(self, request: web.Request) -> tuple[Agent, str]:
        token = request.cookies.get(COOKIE, "")
        if not _TOKEN.match(token):
            raise _unauthorized()
        key = self._session_key(token)
        agent = await self._agent_of_key(key)
        if agent is None:
            raise _unauthorized()
        return agent, key

    async def end_session(self, key: str) -> None:
        await self.stores.sessions.delete(key)
        for client in [c for c in self._clients if c.session_key == key]:
            await client.ws.close(code=CLOSE_SESSION_ENDED, message=b"signed out")

    # --- brute-force protection ------------------------------------------------------------
    async def _failures(self, email: str) -> dict[str, Any]:
        if email in self.accounts:
            state = await self.stores.kv.get(LOGIN_FAILURES, email) or {}
            return {"failures": list(state.get("failures") or []),
                    "locked_until": state.get("locked_until")}
        return dict(self._unknown_failures.get(email) or {"failures": [], "locked_until": None})

    async def _save_failures(self, email: str, state: dict[str, Any]) -> None:
        if email in self.accounts:
            await self.stores.kv.put(LOGIN_FAILURES, email, state,
                                     ttl_s=FAILURE_WINDOW_S + LOCKOUT_S)
            return
        self._unknown_failures[email] = state
        self._unknown_failures.move_to_end(email)
        while len(self._unknown_failures) > 10_000:
            self._unknown_failures.popitem(last=False)

    async def locked_for(self, email: str) -> float:
        """Seconds this e-mail is still locked out for (0 when it may try)."""
        until = (await self._failures(email)).get("locked_until") or 0
        return max(0.0, float(until) - self.clock())

    async def note_failure(self, email: str) -> bool:
        """Count a failed sign-in; True when it locks the e-mail."""
        now = self.clock()
        state = await self._failures(email)
        failures = [t for t in state["failures"] if t > now - FAILURE_WINDOW_S] + [now]
        locked = len(failures) >= MAX_FAILURES
        await self._save_failures(email, {"failures": [] if locked else failures,
                                          "locked_until": now + LOCKOUT_S if locked else None})
        return locked

    async def clear_failures(self, email: str) -> None:
        state = await self._failures(email)
        if state["failures"] or state["locked_until"]:
            await self._save_failures(email, {"failures": [], "locked_until": None})

    def client_of(self, request: web.Request) -> str:
        """The address failed sign-ins are counted against: the proxy's X-Forwarded-For client
        when the operator said a proxy sets it (TRUST_FORWARDED_FOR), else the peer."""
        if self.trust_forwarded_for:
            forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
            if forwarded:
                return forwarded[:64]
        return request.remote or "unknown"

    async def client_locked_for(self, client: str) -> float:
        state = await self.stores.kv.get(CLIENT_FAILURES, client) or {}
        return max(0.0, float(state.get("locked_until") or 0) - self.clock())

    async def note_client_failure(self, client: str) -> None:
        """Failures per client are never cleared by a success: one valid account must not let a
        client keep guessing the others."""
        now = self.clock()
        state = await self.stores.kv.get(CLIENT_FAILURES, client) or {}
        failures = [t for t in state.get("failures") or [] if t > now - FAILURE_WINDOW_S] + [now]
        locked = len(failures) >= MAX_CLIENT_FAILURES
        await self.stores.kv.put(CLIENT_FAILURES, client,
                                 {"failures": [] if locked else failures,
                                  "locked_until": now + LOCKOUT_S if locked else None},
                                 ttl_s=FAILURE_WINDOW_S + LOCKOUT_S)

    # --- audit -----------------------------------------------------------------------------
    async def audit(self, agent: str, action: str, case_id: str | None = None,
                    detail: dict[str, Any] | None = None) -> None:
        entry: dict[str, Any] = {"ts": self.clock(), "agent": agent, "action": action}
        if case_id is not None:
            entry["case_id"] = case_id
        if detail:
            entry["detail"] = detail
        try:
            await self.stores.audit.record(entry)
        except Exception:  # the action happened; losing its audit line must at least be loud
            log.exception("audit record failed: %s", entry)

    # --- presentation ----------------------------------------------------------------------
    def agent_name(self, email: str | None) -> str | None:
        if not email:
            return None
        agent = self.accounts.get(email)
        return agent.name if agent else email

    async def _reply_until(self, case: Case) -> float | None:
        return await reply_until(case, facts_of(self._facts, case.channel),
                                 self.stores.conversations)

    async def card(self, case: Case, me: str | None = None,
                   position: int | None = None) -> dict[str, Any]:
        """What the queue shows of a case."""
        package = case.package or {}
        customer = package.get("customer") or {}
        sentiment = package.get("sentiment") or {}
        if position is None and case.is_waiting:
            position = await self.stores.cases.queue_position(case.case_id)
        facts = facts_of(self._facts, case.channel)
        until = await self._reply_until(case)
        return {
            "case_id": case.case_id,
            "status": str(case.status),
            "position": position if case.is_waiting else None,
            "channel": case.channel or package.get("channel") or "unknown",
            "trigger": {"kind": case.trigger.get("kind"), "detail": case.trigger.get("detail")},
            "customer": customer_label(customer, facts),
            # Past this (a Unix time) a text reply can no longer be delivered; None: no limit.
            "reply_until": until,
            "wants": (package.get("summary") or {}).get("wants") or "",
            "agent": case.agent,
            "agent_name": self.agent_name(case.agent),
            "mine": bool(me and case.agent == me),
            "opened_at": case.opened_at,
            "claimed_at": case.claimed_at,
            "closed_at": case.closed_at,
            "csat": case.csat,
            "follow_up_contact_left": bool(case.follow_up_contact),
            "sentiment": {"latest": sentiment.get("latest"), "trend": sentiment.get("trend")},
        }

    # --- live queue ------------------------------------------------------------------------
    async def on_case_event(self, event: CaseEvent) -> None:
        case = event.case
        case_id = case.case_id
        frame = {"type": "event", "kind": str(event.kind), "case_id": case_id,
                 "status": str(case.status), "channel": case.channel,
                 "trigger": case.trigger.get("kind"),
                 "actor": event.actor, "actor_name": self.agent_name(event.actor),
                 "text": event.text if event.kind in (CaseEventKind.CUSTOMER_MESSAGE,
                                                      CaseEventKind.UNDELIVERED) else None,
                 "ts": self.clock()}
        for client in list(self._clients):
            client.push(frame)
        await self.push_transcript(case_id)

    async def resync(self) -> None:
        """Case events published while the bus was away never arrived: every open console
        reloads its queue, and the watched transcripts are sent again."""
        for client in list(self._clients):
            client.push({"type": "resync"})
        for case_id in {c.watching for c in self._clients if c.watching}:
            await self.push_transcript(case_id)

    async def push_transcript(self, case_id: str) -> None:
        """Send the watched case's transcript (and state) to the agents who have it open."""
        watchers = [c for c in self._clients if c.watching == case_id]
        if not watchers:
            return
        case = await self.desk.get(case_id)
        if case is None:
            return
        frame = {"type": "transcript", "case_id": case_id, "case": await self.card(case),
                 "entries": await self.transcript(case)}
        for client in watchers:
            client.push(frame)

    async def transcript(self, case: Case) -> list[dict[str, Any]]:
        """The live transcript (desk.transcript: redacted); when the gateway holds none for the
        conversation, the one the handoff package brought (redacted by its producer)."""
        entries = await self.desk.transcript(case)
        if entries:
            return entries
        package = case.package or {}
        return [{**e, "source": "package"} for e in package.get("transcript") or []]

    def online(self) -> list[str]:
        return sorted({c.agent.email for c in self._clients})

    def _broadcast_presence(self) -> None:
        frame = {"type": "presence", "online": self.online()}
        for client in list(self._clients):
            client.push(frame)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        agent, key = await self.session(request)
        if not origin_allowed(request, required=False):
            raise ApiError(403, "bad_origin", "Cross-site requests are not allowed.")
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_WS_FRAME)
        await ws.prepare(request)
        client = _Client(ws=ws, agent=agent, session_key=key)
        self._clients.add(client)
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
            self._clients.discard(client)
            self.desk.availability.agent_offline(agent.email)
            if not any(c.agent.email == agent.email for c in self._clients):
                await self.desk.agent_left(agent.email, self._instance)
            client.push(None)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            self._broadcast_presence()
        return ws

    async def _watch(self, client: _Client, case_id: Any) -> None:
        if not isinstance(case_id, str) or not _CASE_ID.match(case_id):
            client.watching = None
            return
        case = await self.desk.get(case_id)
        if case is None:
            client.watching = None
            return
        viewed = self._viewed.setdefault(client.agent.email, set())
        if case_id not in viewed:  # reading a transcript live is a view, like opening it
            viewed.add(case_id)
            await self.audit(client.agent.email, "view", case_id, {"via": "live"})
        client.watching = case_id
        await self.push_transcript(case_id)

    async def _writer(self, client: _Client) -> None:
        while True:
            try:
                async with asyncio.timeout(self.session_recheck_s):  # not wait_for: see drain
                    frame = await client.queue.get()
            except TimeoutError:
                if await self._agent_of_key(client.session_key) is None:
                    await client.ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
                    return
                await self.desk.agent_present(client.agent.email, self._instance)
                continue
            if frame is None or client.ws.closed:
                return
            try:
                await client.ws.send_str(json.dumps(frame))
            except (ConnectionResetError, RuntimeError):
                return

    async def close(self) -> None:
        for client in list(self._clients):
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    # --- HTTP API --------------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        check_origin(request)
        client = self.client_of(request)
        client_locked_for = await self.client_locked_for(client)
        if client_locked_for > 0:
            await self.audit("-", "login_throttled", detail={"client": _masked_client(client)})
            raise _locked(client_locked_for)
        body = await json_body(request)
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or not email.strip() \
                or not password or len(email) > 254 or len(password) > 1024:
            raise ApiError(400, "bad_request", "Enter your e-mail address and password.")
        email = normalise_email(email)
        locked_for = await self.locked_for(email)
        if locked_for > 0:
            await self.audit(email, "login_locked")
            raise _locked(locked_for)
        async with self._password_checks:
            agent = await asyncio.to_thread(check_login, self.accounts, email, password)
        if agent is None:
            await self.note_client_failure(client)
            locked = await self.note_failure(email)
            await self.audit(email, "login_failed",
                             detail={"reason": "wrong password" if email in self.accounts
                                     else "unknown account", "locked": locked})
            if locked:
                raise _locked(LOCKOUT_S)
            raise ApiError(401, "bad_credentials", "Wrong e-mail address or password.")
        await self.clear_failures(email)
        token = await self.create_session(agent)
        await self.audit(agent.email, "login")
        response = web.json_response({"agent": agent.public(), "channels": self.channels()})
        response.set_cookie(COOKIE, token, max_age=SESSION_TTL_S, path="/console", httponly=True,
                            samesite="Strict", secure=is_https(request))
        return response

    async def logout(self, request: web.Request) -> web.Response:
        agent, key = await self.session(request)
        check_origin(request)
        await self.end_session(key)
        await self.audit(agent.email, "logout")
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/console")
        return response

    def channels(self) -> dict[str, dict[str, str]]:
        """How the page shows each channel (its facts), so it names no channel itself."""
        return {name: facts.for_agents() for name, facts in {**self._facts,
                                                              UNKNOWN.name: UNKNOWN}.items()}

    async def me(self, request: web.Request) -> web.Response:
        agent, _ = await self.session(request)
        return web.json_response({"agent": agent.public(), "online": self.online(),
                                  "channels": self.channels()})

    async def cases(self, request: web.Request) -> web.Response:
        agent, _ = await self.session(request)
        me = agent.email
        waiting = await self.desk.waiting()
        recent = await self.desk.recent(limit=SCAN_CASES)
        active = sorted((c for c in recent if c.status is CaseStatus.ACTIVE),
                        key=lambda c: c.claimed_at or 0)
        mine = [c for c in active if c.agent == me]
        teammates = [c for c in active if c.agent != me]
        closed = [c for c in recent if c.status in CLOSED][:RECENT_CLOSED]
        cards = [await self.card(c, me, position=i + 1) for i, c in enumerate(waiting)]
        cards += [await self.card(c, me) for c in (*mine, *teammates, *closed)]
        return web.json_response({"cases": cards, "online": self.online()})

    async def _case(self, request: web.Request) -> Case:
        case_id = request.match_info["case_id"]
        if not _CASE_ID.match(case_id):
            raise CaseNotFound(case_id)
        return await self.desk.require(case_id)

    async def case_detail(self, request: web.Request) -> web.Response:
        agent, _ = await self.session(request)
        case = await self._case(request)
        await self.audit(agent.email, "view", case.case_id)
        self._viewed.setdefault(agent.email, set()).add(case.case_id)
        return web.json_response({"case": await self.card(case, agent.email),
                                  "context": context_of(case),
                                  "transcript": await self.transcript(case)})

    async def claim(self, request: web.Request) -> web.Response:
        agent, _ = await self.session(request)
        check_origin(request)
        case = await self._case(request)
        try:
            case = await self.desk.claim(case.case_id, agent.email)
        except CaseConflict:
            raise await self._conflict("claim", case.case_id, agent.email) from None
        await self.audit(agent.email, "claim", case.case_id)
        return await self._after_action(case, agent)

    async def reply(self, request: web.Request) -> web.Response:
        agent, _ = await self.session(request)
        check_origin(request)
        case = await self._case(request)
        body = await json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "bad_request", "Write a reply first.")
        text = text.strip()
        if len(text) > MAX_REPLY_CHARS:
            raise ApiError(400, "bad_request",
                           f"That reply is too long ({len(text)} characters; at most "
                           f"{MAX_REPLY_CHARS}).")
        until = await self._reply_until(case)
        if until is not None and until <= self.clock():
            raise ApiError(409, "reply_window_closed",
                           closed_reason(facts_of(self._facts, case.channel)))
        try:
            case = await self.desk.agent_reply(case.case_id, agent.email, text)
        except CaseConflict:
            raise await self._conflict("reply", case.case_id, agent.email) from None
        # The audit keeps who replied when and how long the reply was, never what it said.
        await self.audit(agent.email, "reply", case.case_id, {"chars": len(text)})
        return await self._after_action(case, agent)

    async def return_to_bot(self, request: web.Request) -> web.Response:
        return await self._close(request, "return_to_bot")

    async def resolve(self, request: web.Request) -> web.Response:
        return await self._close(request, "resolve")

    async def _close(self, request: web.Request, action: str) -> web.Response:
        agent, _ = await self.session(request)
        check_origin(request)
        case = await self._case(request)
        # CaseDesk._close checks the claimer only after the status changed, so the console checks
        # first: a teammate's active case is never closed by someone else.
        if case.status is not CaseStatus.ACTIVE or case.agent != agent.email:
            raise await self._conflict(action, case.case_id, agent.email)
        close = self.desk.return_to_bot if action == "return_to_bot" else self.desk.resolve
        try:
            case = await close(case.case_id, agent.email)
        except CaseConflict:
            raise await self._conflict(action, case.case_id, agent.email) from None
        await self.audit(agent.email, action, case.case_id)
        return await self._after_action(case, agent)

    async def _after_action(self, case: Case, agent: Agent) -> web.Response:
        await self.push_transcript(case.case_id)
        fresh = await self.desk.get(case.case_id) or case
        return web.json_response({"case": await self.card(fresh, agent.email),
                                  "transcript": await self.transcript(fresh)})

    async def _conflict(self, action: str, case_id: str, me: str) -> ApiError:
        case = await self.desk.require(case_id)
        status, owner = case.status, case.agent
        owner_name = self.agent_name(owner) or "another agent"
        if status in CLOSED:
            message = f"This case is already closed ({status})."
        elif status is CaseStatus.ACTIVE and owner == me:
            message = "You already have this case."
        elif status is CaseStatus.ACTIVE:
            message = (f"{owner_name} already claimed this case." if action == "claim"
                       else f"{owner_name} is handling this case; only they can do that.")
        else:
            message = "Claim the case first."
        return ApiError(409, "conflict", message, case=await self.card(case, me))

    async def suggestions(self, request: web.Request) -> web.Response:
        await self.session(request)
        case = await self._case(request)
        transcript = await self.transcript(case)
        last = next((e.get("text") for e in reversed(transcript) if e.get("role") == "customer"),
                    None)
        if self._faq is None:
            self._faq = faq_answers()
        return web.json_response(await suggest(self.rasa, last, answers=self._faq))

    async def audit_log(self, request: web.Request) -> web.Response:
        await self.session(request)
        try:
            limit = min(500, max(1, int(request.query.get("limit", "100"))))
        except ValueError:
            raise ApiError(400, "bad_request", "limit must be a number") from None
        entries = list(reversed(await self.stores.audit.recent(limit=limit)))
        for entry in entries:
            entry["agent_name"] = self.agent_name(entry.get("agent"))
        return web.json_response({"entries": entries})

    async def page(self, request: web.Request) -> web.FileResponse:
        response = web.FileResponse(STATIC_DIR / "console.html")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response


# --- helpers -------------------------------------------------------------------------------
def _locked(seconds: float) -> ApiError:
    minutes = max(1, round(seconds / 60))
    error = ApiError(429, "locked",
                     f"Too many failed sign-ins. Try again in {minutes} minute"
                     f"{'s' if minutes != 1 else ''}.", retry_after_s=int(seconds))
    return error


def check_origin(request: web.Request) -> None:
    """CSRF: a state-changing request must say it comes from the console's own origin."""
    if not origin_allowed(request):
        raise ApiError(403, "bad_origin", "Cross-site requests are not allowed.")


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await read_json(request, max_bytes=MAX_BODY_BYTES)
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "too_large", "The request body is too large.") from None
    except web.HTTPBadRequest:
        raise ApiError(400, "bad_request", "The request body is not JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The request body must be a JSON object.")
    return body


def _masked_client(client: str) -> str:
    """A client address as the audit keeps it: enough to see a pattern, not to identify."""
    if "." in client:
        return ".".join(client.split(".")[:2]) + ".x.x"
    return client.split(":")[0] + ":…" if ":" in client else "?"


def context_of(case: Case) -> dict[str, Any]:
    """The handoff package as the context panel shows it, summary first."""
    package = case.package or {}
    intents = sorted(package.get("intents") or [], key=lambda i: i.get("confidence", 0),
                     reverse=True)
    return {
        "summary": package.get("summary") or {},
        "trigger": package.get("trigger") or case.trigger or {},
        "customer": package.get("customer") or {},
        "channel": package.get("channel") or case.channel,
        "slots": package.get("slots") or {},
        "intents": intents,
        "sentiment": package.get("sentiment") or {},
        "steps_tried": package.get("steps_tried") or [],
        "created_at": package.get("created_at"),
        "follow_up_contact": case.follow_up_contact,
    }


@web.middleware
async def _errors(request: web.Request,
                  handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except CaseNotFound:
        return ApiError(404, "case_not_found", "There is no such case.").response()
    except CaseConflict as exc:
        return ApiError(409, "conflict", str(exc)).response()
    except web.HTTPException as exc:
        if not request.path.startswith("/console/api/") or exc.status < 400:
            raise
        return ApiError(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason).response()
    except Exception:
        if not request.path.startswith("/console/api/"):
            raise
        log.exception("console %s %s failed", request.method, request.path)
        return ApiError(500, "internal", "Something went wrong on our side.").response()


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in API_SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def console_app(console: AgentConsole) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[CONSOLE_KEY] = console
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", console.page)
    app.router.add_static("/static/", STATIC_DIR, show_index=False)
    app.router.add_get("/ws", console.websocket)
    api = [
        ("POST", "/api/login", console.login),
        ("POST", "/api/logout", console.logout),
        ("GET", "/api/me", console.me),
        ("GET", "/api/cases", console.cases),
        ("GET", "/api/cases/{case_id}", console.case_detail),
        ("POST", "/api/cases/{case_id}/claim", console.claim),
        ("POST", "/api/cases/{case_id}/reply", console.reply),
        ("POST", "/api/cases/{case_id}/return", console.return_to_bot),
        ("POST", "/api/cases/{case_id}/resolve", console.resolve),
        ("GET", "/api/cases/{case_id}/suggestions", console.suggestions),
        ("GET", "/api/audit", console.audit_log),
    ]
    for method, path, handler in api:
        app.router.add_route(method, path, handler)

    async def shutdown(app: web.Application) -> None:
        await console.close()

    app.on_shutdown.append(shutdown)
    return app


def mount_console(app: web.Application, *, desk: Desk, stores: InboxStores, rasa: Parser,
                  settings: Any = None, env: Mapping[str, str] | None = None,
                  channel_facts: Mapping[str, ChannelFacts] | None = None) -> AgentConsole:
    """Mount the console under /console on the gateway and subscribe it to the case desk."""
    accounts = load_accounts(os.environ if env is None else env)
    if not accounts:
        log.warning("agent console: no accounts (set AGENT_ACCOUNTS_FILE or AGENT_ACCOUNTS); "
                    "every sign-in will be refused")
    else:
        log.info("agent console: %d account(s) at /console/", len(accounts))
    console = AgentConsole(desk=desk, stores=stores, rasa=rasa, accounts=accounts,
                           trust_forwarded_for=bool(getattr(settings, "trust_forwarded_for",
                                                            False)),
                           channel_facts=channel_facts)
    desk.subscribe_live(console)
    stores.bus.on_resume(console.resync)
    app[CONSOLE_KEY] = console

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    app.router.add_get("/console", to_console)
    app.add_subapp("/console", console_app(console))
    return console


__all__ = ["AgentConsole", "CONSOLE_KEY", "mount_console"]
