"""A fake orders/identity backend with failure injection, for the action tests.

Account deletion follows the contract (backends/openapi.yaml): a request for a known login
"e-mails" `deletion_code` (kept in `codes_sent`); a confirmation with that code deletes the
account once (`deleted`); anything else is the one 403 `invalid_code`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SHIPPED = {
    "order_id": "482913", "status": "shipped", "placed_at": "2026-11-20",
    "items": [{"name": "Merino wool jacket", "quantity": 1}], "carrier": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    "expected_delivery": "2026-11-25", "delivered_at": None, "status_note": None,
}


@dataclass
class FakeBackend:
    orders: dict[str, tuple[str, dict[str, Any]]] = field(
        default_factory=lambda: {"482913": ("jane.doe@example.com", SHIPPED)})
    accounts: set[str] = field(default_factory=lambda: {"jane.doe@example.com", "janedoe"})
    fail_statuses: list[int] = field(default_factory=list)  # consumed one per request
    delay_s: float = 0.0
    calls: list[tuple[str, Any]] = field(default_factory=list)
    resets_sent: list[str] = field(default_factory=list)
    reset_status: int = 202
    deletion_code: str = "246810"
    deletion_request_status: int = 202
    codes_sent: dict[str, str] = field(default_factory=dict)  # login -> live code
    deleted: list[str] = field(default_factory=list)
    # The client's address of each request's connection: a reused connection repeats.
    peers: list[Any] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/orders/lookup", self._lookup)
        app.router.add_post("/v1/password-resets", self._reset)
        app.router.add_post("/v1/account-deletions", self._request_deletion)
        app.router.add_post("/v1/account-deletions/confirm", self._confirm_deletion)
        return app

    def calls_to(self, path: str) -> list[Any]:
        return [body for called, body in self.calls if called == path]

    async def _gate(self, request: web.Request) -> tuple[Any, web.Response | None]:
        body = await request.json()
        self.calls.append((request.path, body))
        self.peers.append(request.transport.get_extra_info("peername") if request.transport
                          else None)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_statuses:
            status = self.fail_statuses.pop(0)
            return body, web.json_response({"error": "injected", "message": "x"}, status=status)
        return body, None

    async def _lookup(self, request: web.Request) -> web.Response:
        body, failure = await self._gate(request)
        if failure is not None:
            return failure
        found = self.orders.get(body["order_id"])
        if found is None:
            return web.json_response({"error": "order_not_found", "message": "no"}, status=404)
        contact, order = found
        if body["contact"].lower() != contact:
            return web.json_response({"error": "verification_failed", "message": "no"}, status=403)
        return web.json_response(order)

    async def _reset(self, request: web.Request) -> web.Response:
        body, failure = await self._gate(request)
        if failure is not None:
            return failure
        if self.reset_status != 202:
            return web.json_response({"error": "too_many_attempts", "message": "x"},
                                     status=self.reset_status)
        if body["login"].lower() in self.accounts:
            self.resets_sent.append(body["login"].lower())
        return web.json_response({"status": "accepted"}, status=202)

    async def _request_deletion(self, request: web.Request) -> web.Response:
        body, failure = await self._gate(request)
        if failure is not None:
            return failure
        if self.deletion_request_status != 202:
            return web.json_response({"error": "too_many_attempts", "message": "x"},
                                     status=self.deletion_request_status)
        login = body["login"].strip().lower()
        if login in self.accounts:
            self.codes_sent[login] = self.deletion_code
        return web.json_response({"status": "accepted"}, status=202)

    async def _confirm_deletion(self, request: web.Request) -> web.Response:
        body, failure = await self._gate(request)
        if failure is not None:
            return failure
        login = body["login"].strip().lower()
        if self.codes_sent.get(login) != body["code"]:
            return web.json_response({"error": "invalid_code", "message": "no"}, status=403)
        del self.codes_sent[login]  # a code works once
        self.accounts.discard(login)
        self.deleted.append(login)
        return web.json_response({"status": "deleted"})
