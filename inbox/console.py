"""The web agent console: where people sign in, see the handoff queue live, read a case's context
package and transcript, claim it, reply, hand it back to the bot or resolve it. This module is its
HTTP API and the wiring; who may sign in is inbox/console_auth.py, what a case looks like
inbox/console_views.py, the live websocket inbox/console_live.py.

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
  GET  /console/api/intents              what a customer message can be relabelled as
  POST /console/api/cases/{id}/relabel   {text, intent, wrong_answer}: a training candidate
  GET  /console/dashboard, /console/api/dashboard...   leads only: inbox/dashboard.py
  GET  /console/ws                       live queue events and the watched case's transcript

Every API and websocket request needs a valid session (401 otherwise) and every POST the
console's own origin (inbox/console_auth.py).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import web

from analytics.review import known_intents
from analytics.views import AnalyticsViews
from bot.http_bodies import read_json
from bot.http_origin import is_https
from bot.inbox_port import (CLOSED, Case, CaseConflict, CaseEvent, CaseNotFound, CaseStatus,
                            ChannelFacts, Desk, InboxStores, Relabel)
from inbox.agents import Agent, load_accounts, normalise_email
from inbox.console_auth import (COOKIE, LOCKOUT_S, SESSION_TTL_S, ApiError, ConsoleAuth,
                                check_origin, locked, masked_client)
from inbox.console_live import CASE_ID, LiveHub
from inbox.console_views import AuditTrail, CaseViews, context_of
from inbox.dashboard import ALERTS_TOPIC, Dashboard
from inbox.reply_window import closed_reason
from inbox.suggestions import Parser, faq_answers, suggest

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "console_static"
ROOT = Path(__file__).resolve().parent.parent

MAX_REPLY_CHARS = 4000
MAX_BODY_BYTES = 64 * 1024
RECENT_CLOSED = 25
SCAN_CASES = 300

CONSOLE_KEY = web.AppKey("agent_console", "AgentConsole")

API_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class AgentConsole:
    """The console's HTTP API over its parts: sign-in (auth), case views, the audit trail and
    the live hub."""

    def __init__(self, *, desk: Desk, stores: InboxStores, rasa: Parser,
                 accounts: Mapping[str, Agent], clock: Callable[[], float] = time.time,
                 faq: dict[str, str] | None = None, trust_forwarded_for: bool = False,
                 channel_facts: Mapping[str, ChannelFacts] | None = None,
                 analytics: AnalyticsViews | None = None,
                 relabel: Relabel | None = None) -> None:
        self.desk = desk
        self._relabel = relabel
        self._intents: list[str] | None = None
        self.stores = stores
        self.rasa = rasa
        self.accounts = dict(accounts)  # one dict, shared by the parts (an account removed)
        self.clock = clock

        def now() -> float:  # the console's clock, read at each use (tests replace it)
            return self.clock()

        self._faq = faq
        self.auth = ConsoleAuth(stores=stores, accounts=self.accounts, clock=now,
                                trust_forwarded_for=trust_forwarded_for)
        self.views = CaseViews(desk=desk, stores=stores, accounts=self.accounts,
                               channel_facts=channel_facts or {})
        self.audit = AuditTrail(stores, now)
        self.live = LiveHub(desk=desk, auth=self.auth, views=self.views, audit=self.audit,
                            clock=now)
        self.analytics = analytics
        self.dashboard = Dashboard(auth=self.auth, audit=self.audit, views=analytics)

    async def on_case_event(self, event: CaseEvent) -> None:
        await self.live.on_case_event(event)

    async def close(self) -> None:
        await self.live.close()

    # --- HTTP API --------------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        check_origin(request)
        client = self.auth.client_of(request)
        client_locked_for = await self.auth.client_locked_for(client)
        if client_locked_for > 0:
            await self.audit.record("-", "login_throttled", detail={"client": masked_client(client)})
            raise locked(client_locked_for)
        body = await json_body(request)
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or not email.strip() \
                or not password or len(email) > 254 or len(password) > 1024:
            raise ApiError(400, "bad_request", "Enter your e-mail address and password.")
        email = normalise_email(email)
        locked_for = await self.auth.locked_for(email)
        if locked_for > 0:
            await self.audit.record(email, "login_locked")
            raise locked(locked_for)
        agent = await self.auth.check_password(email, password)
        if agent is None:
            await self.auth.note_client_failure(client)
            is_locked = await self.auth.note_failure(email)
            await self.audit.record(email, "login_failed",
                             detail={"reason": "wrong password" if email in self.accounts
                                     else "unknown account", "locked": is_locked})
            if is_locked:
                raise locked(LOCKOUT_S)
            raise ApiError(401, "bad_credentials", "Wrong e-mail address or password.")
        await self.auth.clear_failures(email)
        token = await self.auth.create_session(agent)
        await self.audit.record(agent.email, "login")
        response = web.json_response({"agent": agent.public(), "channels": self.views.channels()})
        response.set_cookie(COOKIE, token, max_age=SESSION_TTL_S, path="/console", httponly=True,
                            samesite="Strict", secure=is_https(request))
        return response

    async def logout(self, request: web.Request) -> web.Response:
        agent, key = await self.auth.session(request)
        check_origin(request)
        await self.auth.delete_session(key)
        await self.live.end_session(key)
        await self.audit.record(agent.email, "logout")
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/console")
        return response

    async def me(self, request: web.Request) -> web.Response:
        agent, _ = await self.auth.session(request)
        return web.json_response({"agent": agent.public(), "online": self.live.online(),
                                  "channels": self.views.channels()})

    async def cases(self, request: web.Request) -> web.Response:
        agent, _ = await self.auth.session(request)
        me = agent.email
        waiting = await self.desk.waiting()
        recent = await self.desk.recent(limit=SCAN_CASES)
        active = sorted((c for c in recent if c.status is CaseStatus.ACTIVE),
                        key=lambda c: c.claimed_at or 0)
        mine = [c for c in active if c.agent == me]
        teammates = [c for c in active if c.agent != me]
        closed = [c for c in recent if c.status in CLOSED][:RECENT_CLOSED]
        cards = [await self.views.card(c, me, position=i + 1) for i, c in enumerate(waiting)]
        cards += [await self.views.card(c, me) for c in (*mine, *teammates, *closed)]
        return web.json_response({"cases": cards, "online": self.live.online()})

    async def _case(self, request: web.Request) -> Case:
        case_id = request.match_info["case_id"]
        if not CASE_ID.match(case_id):
            raise CaseNotFound(case_id)
        return await self.desk.require(case_id)

    async def case_detail(self, request: web.Request) -> web.Response:
        agent, _ = await self.auth.session(request)
        case = await self._case(request)
        await self.audit.record(agent.email, "view", case.case_id)
        self.audit.first_view(agent.email, case.case_id)
        return web.json_response({"case": await self.views.card(case, agent.email),
                                  "context": context_of(case),
                                  "transcript": await self.views.transcript(case)})

    async def claim(self, request: web.Request) -> web.Response:
        agent, _ = await self.auth.session(request)
        check_origin(request)
        case = await self._case(request)
        try:
            case = await self.desk.claim(case.case_id, agent.email)
        except CaseConflict:
            raise await self._conflict("claim", case.case_id, agent.email) from None
        await self.audit.record(agent.email, "claim", case.case_id)
        return await self._after_action(case, agent)

    async def reply(self, request: web.Request) -> web.Response:
        agent, _ = await self.auth.session(request)
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
        until = await self.views.reply_until(case)
        if until is not None and until <= self.clock():
            raise ApiError(409, "reply_window_closed", closed_reason(self.views.facts_of(case)))
        try:
            case = await self.desk.agent_reply(case.case_id, agent.email, text)
        except CaseConflict:
            raise await self._conflict("reply", case.case_id, agent.email) from None
        # The audit keeps who replied when and how long the reply was, never what it said.
        await self.audit.record(agent.email, "reply", case.case_id, {"chars": len(text)})
        return await self._after_action(case, agent)

    async def return_to_bot(self, request: web.Request) -> web.Response:
        return await self._close(request, "return_to_bot")

    async def resolve(self, request: web.Request) -> web.Response:
        return await self._close(request, "resolve")

    async def _close(self, request: web.Request, action: str) -> web.Response:
        agent, _ = await self.auth.session(request)
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
        await self.audit.record(agent.email, action, case.case_id)
        return await self._after_action(case, agent)

    async def _after_action(self, case: Case, agent: Agent) -> web.Response:
        await self.live.push_transcript(case.case_id)
        fresh = await self.desk.get(case.case_id) or case
        return web.json_response({"case": await self.views.card(fresh, agent.email),
                                  "transcript": await self.views.transcript(fresh)})

    async def _conflict(self, action: str, case_id: str, me: str) -> ApiError:
        case = await self.desk.require(case_id)
        status, owner = case.status, case.agent
        owner_name = self.views.agent_name(owner) or "another agent"
        if status in CLOSED:
            message = f"This case is already closed ({status})."
        elif status is CaseStatus.ACTIVE and owner == me:
            message = "You already have this case."
        elif status is CaseStatus.ACTIVE:
            message = (f"{owner_name} already claimed this case." if action == "claim"
                       else f"{owner_name} is handling this case; only they can do that.")
        else:
            message = "Claim the case first."
        return ApiError(409, "conflict", message, case=await self.views.card(case, me))

    async def suggestions(self, request: web.Request) -> web.Response:
        await self.auth.session(request)
        case = await self._case(request)
        transcript = await self.views.transcript(case)
        last = next((e.get("text") for e in reversed(transcript) if e.get("role") == "customer"),
                    None)
        if self._faq is None:
            self._faq = faq_answers()
        return web.json_response(await suggest(self.rasa, last, answers=self._faq))

    def intents(self) -> list[str]:
        if self._intents is None:
            self._intents = known_intents(ROOT)
        return self._intents

    async def intent_list(self, request: web.Request) -> web.Response:
        await self.auth.session(request)
        return web.json_response({"intents": self.intents(), "relabel": self._relabel is not None})

    async def relabel(self, request: web.Request) -> web.Response:
        """An agent marks a customer message with the intent it should have been understood as
        (a training candidate for `make review`)."""
        agent, _ = await self.auth.session(request)
        check_origin(request)
        case = await self._case(request)
        if self._relabel is None:
            raise ApiError(404, "analytics_off", "Corrections need analytics (ANALYTICS_BROKER).")
        body = await json_body(request)
        text, intent = body.get("text"), body.get("intent")
        wrong = body.get("wrong_answer", False)
        if not isinstance(intent, str) or intent not in self.intents():
            raise ApiError(400, "unknown_intent", "Choose one of the assistant's intents.")
        if not isinstance(wrong, bool):
            raise ApiError(400, "bad_request", "wrong_answer must be true or false.")
        said = [e.get("text") for e in await self.views.transcript(case)
                if e.get("role") == "customer"]
        if not isinstance(text, str) or text not in said:
            raise ApiError(400, "not_in_case", "That is not a message of this case's customer.")
        await self._relabel(case, text=text, intent=intent, wrong_answer=wrong, agent=agent.email)
        await self.audit.record(agent.email, "relabel", case.case_id, {"intent": intent})
        return web.json_response({"ok": True})

    async def audit_log(self, request: web.Request) -> web.Response:
        await self.auth.session(request)
        try:
            limit = min(500, max(1, int(request.query.get("limit", "100"))))
        except ValueError:
            raise ApiError(400, "bad_request", "limit must be a number") from None
        entries = list(reversed(await self.stores.audit.recent(limit=limit)))
        for entry in entries:
            entry["agent_name"] = self.views.agent_name(entry.get("agent"))
        return web.json_response({"entries": entries})

    async def page(self, request: web.Request) -> web.FileResponse:
        response = web.FileResponse(STATIC_DIR / "console.html")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    async def dashboard_page(self, request: web.Request) -> web.FileResponse:
        response = web.FileResponse(STATIC_DIR / "dashboard.html")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response


# --- helpers -------------------------------------------------------------------------------
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
    app.router.add_get("/dashboard", console.dashboard_page)
    app.router.add_static("/static/", STATIC_DIR, show_index=False)
    app.router.add_get("/ws", console.live.websocket)
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
        ("GET", "/api/intents", console.intent_list),
        ("POST", "/api/cases/{case_id}/relabel", console.relabel),
        *console.dashboard.routes(),
    ]
    for method, path, handler in api:
        app.router.add_route(method, path, handler)

    async def shutdown(app: web.Application) -> None:
        await console.close()

    app.on_shutdown.append(shutdown)
    return app


def mount_console(app: web.Application, *, desk: Desk, stores: InboxStores, rasa: Parser,
                  settings: Any = None, env: Mapping[str, str] | None = None,
                  channel_facts: Mapping[str, ChannelFacts] | None = None,
                  analytics: AnalyticsViews | None = None,
                  relabel: Relabel | None = None) -> AgentConsole:
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
                           channel_facts=channel_facts, analytics=analytics, relabel=relabel)
    desk.subscribe_live(console)
    stores.bus.subscribe(ALERTS_TOPIC, console.live.push_alert)
    stores.bus.on_resume(console.live.resync)
    app[CONSOLE_KEY] = console

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    app.router.add_get("/console", to_console)
    app.add_subapp("/console", console_app(console))
    return console


__all__ = ["AgentConsole", "CONSOLE_KEY", "mount_console"]
