"""The demo orders + identity HTTP service (one aiohttp app for both APIs).

The contract is described in ``openapi.yaml`` next to this module, which the app also serves
at ``GET /openapi.yaml`` so that a shop implementing its own backend can check against it.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.resources
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, LooseHeaders, Middleware

from backends.demo_store import (
    DeletionOutcome,
    DeletionRequestOutcome,
    DemoStore,
    LookupRefusal,
    Order,
    OutboxMessage,
    ResetOutcome,
)

__all__ = ["OPENAPI_SPEC", "PUBLIC_PATHS", "STORE", "create_app"]

logger = logging.getLogger(__name__)

STORE: Final = web.AppKey("demo_store", DemoStore)
OPENAPI_SPEC: Final = web.AppKey("openapi_spec", bytes)

# Everything else needs the bearer token when one is configured: failing closed means a route
# added later is protected unless someone decides otherwise here.
PUBLIC_PATHS: Final = frozenset({"/healthz", "/openapi.yaml"})

# Requests are a few small JSON fields; a low cap stops a client from making us buffer megabytes.
_MAX_BODY_BYTES: Final = 16 * 1024
# Long enough for any real email address (RFC 5321 caps a path at 256 octets) or phone number.
_MAX_CONTACT_LENGTH: Final = 320
_ORDER_ID: Final = re.compile(r"[0-9]{6}")
# Codes are 6 digits; the cap only keeps junk out (anything else is simply a wrong code).
_MAX_CODE_LENGTH: Final = 64

_REFUSALS: Final[dict[LookupRefusal, tuple[int, str]]] = {
    LookupRefusal.ORDER_NOT_FOUND: (404, "No order exists with that order number."),
    # Deliberately says nothing about the order: the caller has not proved who they are.
    LookupRefusal.VERIFICATION_FAILED: (
        403,
        "The contact details do not match the ones on this order.",
    ),
    LookupRefusal.TOO_MANY_ATTEMPTS: (
        429,
        "Too many failed verification attempts for this order. Try again later.",
    ),
}

# Codes for errors aiohttp raises itself (no matching route, wrong method, oversized body), so
# that every error body has the same JSON shape as the ones our handlers produce.
_HTTP_ERROR_CODES: Final = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def create_app(*, db_path: str, api_token: str | None = None) -> web.Application:
    """Build the demo backend application.

    ``api_token``: when set, every route outside ``PUBLIC_PATHS`` requires
    ``Authorization: Bearer <api_token>``; when None the API is open (local development).
    """
    if api_token is not None and not api_token.strip():
        # An empty token from a half-set environment variable must not silently disable auth.
        raise ValueError("api_token must be None or a non-blank string")
    middlewares: list[Middleware] = [_json_errors]
    if api_token is not None:
        middlewares.append(_bearer_auth(api_token))
    app = web.Application(middlewares=middlewares, client_max_size=_MAX_BODY_BYTES)
    app.cleanup_ctx.append(_store_context(db_path))
    app.cleanup_ctx.append(_openapi_context)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.yaml", openapi_spec)
    app.router.add_post("/v1/orders/lookup", lookup_order)
    app.router.add_post("/v1/password-resets", request_password_reset)
    app.router.add_post("/v1/account-deletions", request_account_deletion)
    app.router.add_post("/v1/account-deletions/confirm", confirm_account_deletion)
    app.router.add_get("/v1/customers/lookup", lookup_customer)
    app.router.add_get("/v1/_demo/outbox", demo_outbox)
    return app


def _store_context(db_path: str) -> Callable[[web.Application], AsyncIterator[None]]:
    async def store_context(app: web.Application) -> AsyncIterator[None]:
        store = await DemoStore.open(db_path)
        app[STORE] = store
        try:
            yield
        finally:
            await store.close()

    return store_context


async def _openapi_context(app: web.Application) -> AsyncIterator[None]:
    resource = importlib.resources.files(__package__ or "backends").joinpath("openapi.yaml")
    app[OPENAPI_SPEC] = await asyncio.to_thread(resource.read_bytes)
    yield


def _error(
    status: int, code: str, message: str, *, headers: LooseHeaders | None = None
) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


def _invalid(message: str) -> web.Response:
    return _error(400, "invalid_request", message)


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {hdrs.ALLOW: exc.headers[hdrs.ALLOW]} if hdrs.ALLOW in exc.headers else None
        code = _HTTP_ERROR_CODES.get(exc.status, "http_error")
        return _error(exc.status, code, exc.reason, headers=headers)
    except Exception:
        logger.exception("Unhandled error serving %s %s", request.method, request.path)
        return _error(500, "internal_error", "The server failed to handle the request.")


def _bearer_auth(token: str) -> Middleware:
    expected = token.encode()

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Decided by the matched route, not the raw path, so URL spelling tricks cannot reach
        # a protected handler through a public-looking path.
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical in PUBLIC_PATHS:
            return await handler(request)
        scheme, _, supplied = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        # compare_digest: the time taken must not reveal how much of the token was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            supplied.strip().encode("utf-8", "replace"), expected
        ):
            return _error(
                401,
                "unauthorized",
                "A valid bearer token is required.",
                headers={hdrs.WWW_AUTHENTICATE: "Bearer"},
            )
        return await handler(request)

    return bearer_auth


async def _json_object(request: web.Request) -> dict[str, object] | None:
    try:
        body = json.loads(await request.read())
    except ValueError:  # covers malformed JSON and undecodable bytes
        return None
    return body if isinstance(body, dict) else None


def _non_blank(value: object) -> str | None:
    if isinstance(value, str) and value.strip() and len(value) <= _MAX_CONTACT_LENGTH:
        return value
    return None


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _order_json(order: Order) -> dict[str, object]:
    return {
        "order_id": order.order_id,
        "status": order.status,
        "placed_at": order.placed_at.isoformat(),
        "items": [{"name": item.name, "quantity": item.quantity} for item in order.items],
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "tracking_url": order.tracking_url,
        "expected_delivery": _iso(order.expected_delivery),
        "delivered_at": _iso(order.delivered_at),
        "status_note": order.status_note,
    }


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def openapi_spec(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[OPENAPI_SPEC], content_type="application/yaml", charset="utf-8"
    )


async def lookup_order(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if body is None:
        return _invalid("The request body must be a JSON object.")
    order_id = body.get("order_id")
    # The caller normalises what the customer typed; anything else here is a caller bug.
    if not isinstance(order_id, str) or _ORDER_ID.fullmatch(order_id) is None:
        return _invalid("order_id must be a string of exactly 6 digits.")
    contact = _non_blank(body.get("contact"))
    if contact is None:
        return _invalid("contact must be a non-empty email address or phone number.")

    result = await request.app[STORE].lookup_order(order_id, contact)
    if isinstance(result, Order):
        return web.json_response(_order_json(result))
    status, message = _REFUSALS[result]
    return _error(status, result.value, message)


async def request_password_reset(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if body is None:
        return _invalid("The request body must be a JSON object.")
    login = _non_blank(body.get("login"))
    if login is None:
        return _invalid("login must be a non-empty email address or username.")

    outcome = await request.app[STORE].request_password_reset(login)
    if outcome is ResetOutcome.TOO_MANY_ATTEMPTS:
        return _error(
            429,
            "too_many_attempts",
            "Too many password reset requests for this login. Try again later.",
        )
    # Same status and body whether or not the account exists: no account enumeration.
    return web.json_response({"status": "accepted"}, status=202)


async def request_account_deletion(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if body is None:
        return _invalid("The request body must be a JSON object.")
    login = _non_blank(body.get("login"))
    if login is None:
        return _invalid("login must be a non-empty email address or username.")

    outcome = await request.app[STORE].request_account_deletion(login)
    if outcome is DeletionRequestOutcome.TOO_MANY_ATTEMPTS:
        return _error(
            429,
            "too_many_attempts",
            "Too many account deletion requests for this login. Try again later.",
        )
    # Same status and body whether or not the account exists: no account enumeration.
    return web.json_response({"status": "accepted"}, status=202)


async def confirm_account_deletion(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if body is None:
        return _invalid("The request body must be a JSON object.")
    login = _non_blank(body.get("login"))
    if login is None:
        return _invalid("login must be a non-empty email address or username.")
    code = body.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > _MAX_CODE_LENGTH:
        return _invalid("code must be the one-time code from the e-mail, as a string.")

    outcome = await request.app[STORE].confirm_account_deletion(login, code)
    if outcome is DeletionOutcome.DELETED:
        return web.json_response({"status": "deleted"})
    # One answer for a wrong, expired, used or burnt code and for an unknown login.
    return _error(403, "invalid_code", "The code is not valid for this login.")


async def lookup_customer(request: web.Request) -> web.Response:
    contact = _non_blank(request.query.get("contact"))
    if contact is None:
        return _invalid("The contact query parameter must be an email address or phone number.")
    customer = await request.app[STORE].find_customer(contact)
    if customer is None:
        return _error(404, "customer_not_found", "No customer has that email or phone number.")
    return web.json_response(
        {
            "customer_id": customer.customer_id,
            "name": customer.name,
            "email": customer.email,
            "vip": customer.vip,
            "tier": customer.tier,
        }
    )


async def demo_outbox(request: web.Request) -> web.Response:
    # Demo-only: exposes what the mail service would have sent, so tests and the demo UI can
    # show that a reset email went out, and read the code of an account-deletion email the way
    # the customer would. A real identity service has no such route.
    email = _non_blank(request.query.get("email"))
    if email is None:
        return _invalid("The email query parameter is required.")
    messages = await request.app[STORE].outbox_for(email)
    return web.json_response({"messages": [_outbox_json(m) for m in messages]})


def _outbox_json(message: OutboxMessage) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": message.kind.value,
        "email": message.email,
        "created_at": message.created_at,
    }
    if message.code is not None:
        body["code"] = message.code
    return body
