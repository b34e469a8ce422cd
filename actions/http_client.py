"""A small JSON-over-HTTP client for backend services: a timeout on every call, bounded retries with
exponential backoff on 5xx, timeouts and refused connections, and typed errors instead of raw
aiohttp exceptions."""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp

log = logging.getLogger(__name__)


class BackendError(Exception):
    """Base of every error a backend client raises."""


class BackendUnavailable(BackendError):
    """The service could not be reached or kept failing (5xx / timeout) after the retries."""


@dataclass
class BackendRejected(BackendError):
    """The service answered with a 4xx: a definite answer, never retried."""

    status: int
    code: str
    message: str = ""

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class JsonHttpClient:
    def __init__(
        self,
        *,
        base_url: str,
        token: str | None = None,
        timeout_s: float = 4.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        name: str = "backend",
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retries = retries
        self._backoff_s = backoff_s
        self._name = name
        self._session = session  # shared and kept open by its owner; else one per call

    async def request(self, method: str, path: str, *, json: Any = None,
                      params: dict[str, str] | None = None,
                      idempotent: bool = True) -> tuple[int, Any]:
        """Return (status, body) for a 2xx answer; raise BackendRejected / BackendUnavailable.

        A non-idempotent call is retried only when the connection was never made, so a slow
        success is not repeated (one reset e-mail, not three)."""
        url = f"{self._base_url}{path}"
        last_reason = ""
        for attempt in range(self._retries + 1):
            if attempt:
                delay = self._backoff_s * (2 ** (attempt - 1)) * (1 + random.random() / 2)
                await asyncio.sleep(delay)
            try:
                async with self._session_for_call(idempotent) as session, session.request(
                        method, url, json=json, params=params, headers=self._headers,
                        timeout=self._timeout) as resp:
                    body = await _read_json(resp)
                    if resp.status >= 500:
                        last_reason = f"HTTP {resp.status}"
                        if not idempotent:
                            break
                        continue
                    if resp.status >= 400:
                        raise BackendRejected(
                            status=resp.status,
                            code=str(body.get("error", "error")) if isinstance(body, dict) else "error",
                            message=str(body.get("message", "")) if isinstance(body, dict) else "",
                        )
                    return resp.status, body
            except aiohttp.ClientConnectorError as exc:
                last_reason = type(exc).__name__
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
                last_reason = type(exc).__name__
                if not idempotent:
                    break
        log.warning("%s %s %s failed after %d attempts: %s", self._name, method, path,
                    self._retries + 1, last_reason)
        raise BackendUnavailable(f"{self._name} unavailable: {last_reason}")

    @asynccontextmanager
    async def _session_for_call(self, idempotent: bool) -> AsyncIterator[aiohttp.ClientSession]:
        # A call that must not be repeated gets a fresh connection: a kept-alive one the backend
        # has just closed fails with ServerDisconnected, and such a call is never retried.
        if idempotent and self._session is not None and not self._session.closed:
            yield self._session
            return
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            yield session


class SharedSession:
    """One HTTP session for a process's backend calls while its server runs: connections are
    kept alive and reused instead of a new connection (and TLS handshake) per call. Opened and
    closed with the server (actions/server.py); until then clients open one per call."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    async def open(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_json(resp: aiohttp.ClientResponse) -> Any:
    try:
        return await resp.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return None
