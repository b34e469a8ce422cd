"""Who may use the agent console: sessions and the brute-force protection of sign-in.

A session is an unguessable token in an HttpOnly, SameSite=Strict cookie, stored hashed in
stores.sessions under "agent:" for 12 hours. POSTs must come from the console's own origin (Origin
header, CSRF). Five failed sign-ins for one e-mail within 15 minutes lock that e-mail for 15
minutes: for configured accounts in the stores (kv namespace console-login, shared by every
gateway instance with Redis), for unknown e-mails in a bounded in-memory table (same answers
either way, so the lockout does not reveal which accounts exist). One client address with twenty
failures within 15 minutes is refused for 15 minutes whatever e-mail it tries (kv namespace
console-client), so spraying passwords over many accounts is throttled too."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections import OrderedDict
from typing import Any, Callable

from aiohttp import web

from bot.http_origin import origin_allowed
from bot.inbox_port import InboxStores
from inbox.agents import Agent, check_login

COOKIE = "nw_agent_session"
SESSION_TTL_S = 12 * 3600
SESSION_NAMESPACE = "agent:"
FAILURE_WINDOW_S = 15 * 60
MAX_FAILURES = 5
LOCKOUT_S = 15 * 60
LOGIN_FAILURES = "console-login"  # kv namespace: failed sign-ins per configured account
CLIENT_FAILURES = "console-client"  # kv namespace: failed sign-ins per client address
MAX_CLIENT_FAILURES = 20  # per client and FAILURE_WINDOW_S, whichever accounts it tries
UNKNOWN_EMAILS_KEPT = 10_000
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> web.Response:
        return web.json_response({"error": self.code, "message": self.message, **self.extra},
                                 status=self.status)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Sign in to use the agent console.")


def locked(seconds: float) -> ApiError:
    minutes = max(1, round(seconds / 60))
    return ApiError(429, "locked", f"Too many failed sign-ins. Try again in {minutes} minute"
                                   f"{'s' if minutes != 1 else ''}.", retry_after_s=int(seconds))


def check_origin(request: web.Request) -> None:
    """CSRF: a state-changing request must say it comes from the console's own origin."""
    if not origin_allowed(request):
        raise ApiError(403, "bad_origin", "Cross-site requests are not allowed.")


def masked_client(client: str) -> str:
    """A client address as the audit keeps it: enough to see a pattern, not to identify."""
    if "." in client:
        return ".".join(client.split(".")[:2]) + ".x.x"
    return client.split(":")[0] + ":…" if ":" in client else "?"


class ConsoleAuth:
    def __init__(self, *, stores: InboxStores, accounts: dict[str, Agent],
                 clock: Callable[[], float], trust_forwarded_for: bool = False) -> None:
        self.stores = stores
        self.accounts = accounts
        self.clock = clock
        self.trust_forwarded_for = trust_forwarded_for
        self._unknown_failures: OrderedDict[str, dict[str, Any]] = OrderedDict()
        # scrypt is deliberately costly: a flood of sign-ins queues here instead of taking every
        # worker thread (and the CPU) from the rest of the gateway.
        self._password_checks = asyncio.Semaphore(2)

    # --- sessions --------------------------------------------------------------------------
    @staticmethod
    def _session_key(token: str) -> str:
        # Stored hashed: a dump of the session store holds nothing that signs anyone in.
        return SESSION_NAMESPACE + hashlib.sha256(token.encode()).hexdigest()

    async def check_password(self, email: str, password: str) -> Agent | None:
        async with self._password_checks:
            return await asyncio.to_thread(check_login, self.accounts, email, password)

    async def create_session(self, agent: Agent) -> str:
        token = secrets.token_urlsafe(32)
        await self.stores.sessions.put(self._session_key(token), SESSION_NAMESPACE + agent.email,
                                       ttl_s=SESSION_TTL_S)
        return token

    async def agent_of_key(self, key: str) -> Agent | None:
        value = await self.stores.sessions.get(key)
        if not value or not value.startswith(SESSION_NAMESPACE):
            return None
        return self.accounts.get(value[len(SESSION_NAMESPACE):])

    async def session(self, request: web.Request) -> tuple[Agent, str]:
        """The signed-in agent and their session key; 401 otherwise."""
        token = request.cookies.get(COOKIE, "")
        if not _TOKEN.match(token):
            raise unauthorized()
        key = self._session_key(token)
        agent = await self.agent_of_key(key)
        if agent is None:
            raise unauthorized()
        return agent, key

    async def delete_session(self, key: str) -> None:
        await self.stores.sessions.delete(key)

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
        while len(self._unknown_failures) > UNKNOWN_EMAILS_KEPT:
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
        is_locked = len(failures) >= MAX_FAILURES
        await self._save_failures(email, {"failures": [] if is_locked else failures,
                                          "locked_until": now + LOCKOUT_S if is_locked else None})
        return is_locked

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
        is_locked = len(failures) >= MAX_CLIENT_FAILURES
        await self.stores.kv.put(CLIENT_FAILURES, client,
                                 {"failures": [] if is_locked else failures,
                                  "locked_until": now + LOCKOUT_S if is_locked else None},
                                 ttl_s=FAILURE_WINDOW_S + LOCKOUT_S)
