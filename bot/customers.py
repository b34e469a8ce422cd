"""The gateway's view of customer profiles (only the VIP flag, for escalation rules), from the
same customers API the demo backend serves (backends/openapi.yaml: GET /v1/customers/lookup)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

log = logging.getLogger(__name__)


class CustomerDirectory:
    def __init__(self, *, base_url: str, token: str | None, timeout_s: float = 2.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """One session for the gateway's lifetime (bot/app.py), so lookups reuse connections."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def is_vip(self, contact: str) -> bool | None:
        """True/False from the profile; None when unknown (no profile, or the API failed: an
        escalation rule must never block a conversation)."""
        if self._http is None:
            await self.open()
        assert self._http is not None
        try:
            async with self._http.get(f"{self._base_url}/v1/customers/lookup",
                                      params={"contact": contact},
                                      headers=self._headers) as resp:
                if resp.status == 404:
                    return False
                if resp.status != 200:
                    log.warning("customer lookup answered HTTP %d", resp.status)
                    return None
                return bool((await resp.json()).get("vip"))
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("customer lookup failed: %s", type(exc).__name__)
            return None
