"""The human inbox's front door: validates handoff packages (schemas/handoff-package-v1.json),
opens one case per conversation, and says honestly what happens next.

Routes (all need `Authorization: Bearer $HANDOFF_SECRET`, compared in constant time):
  POST /handoff/v1/cases          open a case from a package (idempotent per open conversation)
  GET  /handoff/v1/cases/{id}     read a case
  GET  /handoff/v1/schema         the package JSON Schema
"""

from __future__ import annotations

import hmac
import logging
from functools import lru_cache
from typing import Any

from aiohttp import web
from jsonschema import Draft7Validator

from bot.cases import CaseDesk
from bot.handoff_schema import package_schema
from bot.http_bodies import error, read_json

log = logging.getLogger(__name__)

MAX_PACKAGE_BYTES = 1_000_000


@lru_cache(maxsize=1)
def package_validator() -> Draft7Validator:
    return Draft7Validator(package_schema())


def package_errors(package: Any) -> list[str]:
    errors = sorted(package_validator().iter_errors(package), key=lambda e: list(e.path))
    return [f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors][:20]


DESK_KEY = web.AppKey("handoff_desk", CaseDesk)
SECRET_KEY = web.AppKey("handoff_secret", str)


def _authorised(request: web.Request) -> None:
    secret = request.app[SECRET_KEY]
    if not secret:
        raise error(503, "handoff_disabled", "HANDOFF_SECRET is not configured on the gateway")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(errors="surrogateescape"),
                               f"Bearer {secret}".encode()):
        raise error(401, "unauthorized", "bad or missing credentials")


async def create_case(request: web.Request) -> web.Response:
    _authorised(request)
    package = await read_json(request, max_bytes=MAX_PACKAGE_BYTES)
    errors = package_errors(package)
    if errors:
        raise error(422, "invalid_package", "package does not match schema v1", details=errors)
    # Called by the handoff action inside the conversation's Rasa turn: the action pauses the
    # tracker itself (ConversationPaused), so nothing here may call back into Rasa.
    receipt = await request.app[DESK_KEY].open_case(package, rasa_paused=True)
    return web.json_response(receipt, status=201)


async def read_case(request: web.Request) -> web.Response:
    _authorised(request)
    case = await request.app[DESK_KEY].get(request.match_info["case_id"])
    if case is None:
        raise error(404, "case_not_found", "no such case")
    return web.json_response(case.to_dict())


async def read_schema(request: web.Request) -> web.Response:
    return web.json_response(package_schema())


def handoff_app(desk: CaseDesk, secret: str | None) -> web.Application:
    app = web.Application(client_max_size=MAX_PACKAGE_BYTES)
    app[DESK_KEY] = desk
    app[SECRET_KEY] = secret or ""
    app.router.add_post("/v1/cases", create_case)
    app.router.add_get("/v1/cases/{case_id}", read_case)
    app.router.add_get("/v1/schema", read_schema)
    return app
