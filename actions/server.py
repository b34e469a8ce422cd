"""The action server: rasa_sdk's app, wrapped so that only Rasa can use it.

`python -m actions.server --port 5055` (what `make run` starts; `rasa run actions` is not used):
- binds 127.0.0.1 (ACTION_SERVER_HOST to change it; rasa_sdk's default is 0.0.0.0);
- every call but /health needs ACTION_SERVER_TOKEN, which Rasa sends as the `token` query
  parameter (endpoints.yml: action_endpoint.token). rasa_sdk has no option for it;
- bodies are capped (compressed ones after inflating too) and parsed strictly: malformed or
  deeply nested JSON is a 400, not a crash;
- when an action fails, the answer is a short 500: rasa_sdk's own handler echoed the whole
  tracker back as `request_body`, which Rasa then logged. The log line names the action, and
  goes through the project's log redaction like every other line."""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
import zlib
from typing import Any

from jsonschema import Draft7Validator
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.clients import SHARED_HTTP
from bot.log_format import configure as configure_logging
from bot.log_redaction import install as install_log_redaction
from bot.safe_json import BadJson, loads

log = logging.getLogger("actions.server")

MAX_BODY_BYTES = 4 * 1024 * 1024  # a long conversation's tracker is well under 1 MB
PUBLIC_PATHS = frozenset({"/health"})


def create_app(*, token: str, package: str = "actions") -> Sanic:
    if not token.strip():
        raise ValueError("the action server needs a token (ACTION_SERVER_TOKEN)")
    from rasa_sdk.endpoint import create_app as sdk_app

    app = sdk_app(package, cors_origins="")  # only Rasa calls it: no browser, no CORS
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    expected = token.encode()

    @app.middleware("request")
    async def guard(request: Request) -> HTTPResponse | None:
        if request.path in PUBLIC_PATHS:
            return None
        given = (request.args.get("token") or "").encode(errors="surrogateescape")
        if not hmac.compare_digest(given, expected):
            log.warning("action server: call to %s without the right token refused",
                        request.path[:100])
            return response.json({"error": "unauthorized"}, status=401)
        if request.method == "POST":
            return _too_large(request) or _parse_body(request)
        return None

    def failed(request: Request, exception: Exception) -> HTTPResponse:
        if isinstance(exception, SanicException):
            status = int(getattr(exception, "status_code", 500) or 500)
            return response.json({"error": str(exception)[:200]}, status=status)
        body = request.parsed_json if isinstance(request.parsed_json, dict) else {}
        log.error("action %s failed", str(body.get("next_action") or "?")[:100],
                  exc_info=exception)
        return response.json({"error": "the action failed"}, status=500)

    app.error_handler.add(Exception, failed)

    async def open_http(app: Sanic, loop: Any) -> None:
        await SHARED_HTTP.open()

    async def close_http(app: Sanic, loop: Any) -> None:
        await SHARED_HTTP.close()

    app.register_listener(open_http, "before_server_start")
    app.register_listener(close_http, "after_server_stop")
    return app


def _too_large(request: Request) -> HTTPResponse | None:
    """A 413 for a body over the cap. Sanic stops reading it and runs this middleware again
    to answer its PayloadTooLarge, with an empty body that would otherwise be a 400."""
    received = getattr(request.stream, "request_bytes", None) or 0
    if received > MAX_BODY_BYTES:
        return response.json({"error": f"the body is over {MAX_BODY_BYTES} bytes"}, status=413)
    return None


def _parse_body(request: Request) -> HTTPResponse | None:
    """Parse (and inflate) the body ourselves, so rasa_sdk gets it already checked."""
    body = request.body
    if request.headers.get("Content-Encoding") == "deflate":
        inflater = zlib.decompressobj()
        try:
            body = inflater.decompress(body, MAX_BODY_BYTES)
        except zlib.error:
            return response.json({"error": "the body is not deflate data"}, status=400)
        if inflater.unconsumed_tail:
            return response.json({"error": "the inflated body is too large"}, status=413)
        del request.headers["Content-Encoding"]
        request.body = body
    try:
        parsed: Any = loads(body)
    except BadJson as exc:
        return response.json({"error": str(exc)[:200]}, status=400)
    if not isinstance(parsed, dict):
        return response.json({"error": "the body must be a JSON object"}, status=400)
    problem = next(iter(ACTION_CALL_SHAPE.iter_errors(parsed)), None)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "(root)"
        return response.json({"error": f"not an action call: {where[:80]}: {problem.validator}"},
                             status=400)
    request.parsed_json = parsed
    return None


# What rasa_sdk's executor and tracker, and our actions, read from an action call, with the
# types Rasa sends (rasa/core/actions/action.py, RemoteAction._action_call_format). rasa_sdk
# indexes into these unchecked, so a call of another shape is refused here: a KeyError in the
# executor would be a 500 that Rasa reports as a failed action.
_TEXT = {"type": ["string", "null"]}
_PARSE_DATA = {"type": ["object", "null"], "properties": {
    "text": _TEXT, "intent": {"type": ["object", "null"], "properties": {
        "name": _TEXT, "confidence": {"type": ["number", "null"]}}},
    "entities": {"type": "array", "items": {"type": "object"}}}}
ACTION_CALL_SHAPE = Draft7Validator({
    "type": "object",
    "required": ["next_action", "tracker"],
    "properties": {
        "next_action": {"type": "string"},
        "sender_id": _TEXT,
        "version": _TEXT,
        "tracker": {"$ref": "#/definitions/tracker"},
        "domain": {"$ref": "#/definitions/domain"},
    },
    "definitions": {
        "tracker": {
            "type": "object",
            "required": ["sender_id"],
            "properties": {
                "sender_id": {"type": "string"},
                "slots": {"type": "object"},
                "latest_message": _PARSE_DATA,
                "events": {"type": "array", "items": {"$ref": "#/definitions/event"}},
                "paused": {"type": "boolean"},
                "followup_action": _TEXT,
                "active_loop": {"type": "object", "properties": {"name": _TEXT}},
                "latest_action_name": _TEXT,
            },
        },
        "event": {
            "type": "object",
            "required": ["event"],
            "properties": {"event": {"type": "string"}, "text": _TEXT, "name": _TEXT,
                           "timestamp": {"type": ["number", "null"]},
                           "parse_data": _PARSE_DATA, "metadata": {"type": ["object", "null"]}},
            # The tracker reads the name (and value) of slot and action events by key.
            "allOf": [
                {"if": {"properties": {"event": {"const": "slot"}}},
                 "then": {"required": ["name", "value"], "properties": {"name": {"type": "string"}}}},
                {"if": {"properties": {"event": {"const": "action"}}},
                 "then": {"required": ["name"]}},
            ],
        },
        "domain": {
            "type": "object",
            "properties": {
                "slots": {"type": "object", "additionalProperties": {"type": "object"}},
                "forms": {"type": "object", "additionalProperties": {
                    "type": "object",
                    "properties": {"required_slots": {"type": "array",
                                                      "items": {"type": "string"}}}}},
                "responses": {"type": "object"},
            },
        },
    },
})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.server",
                                     description="the Rasa action server of this project")
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_SERVER_PORT",
                                                                       "5055")))
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    install_log_redaction()
    configure_logging("actions")
    token = os.environ.get("ACTION_SERVER_TOKEN", "")
    if not token.strip():
        log.error("ACTION_SERVER_TOKEN is not set: refusing to run an open action server")
        return 2
    app = create_app(token=token)
    log.info("action server on http://%s:%d (token required)", args.host, args.port)
    app.run(host=args.host, port=args.port, access_log=False, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
