"""Reading request bodies from strangers in aiohttp handlers: the size is capped before anything
is read into memory, and malformed input is a 4xx with a JSON error body, never a 500."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.safe_json import BadJson, loads


def error(status: int, code: str, message: str, **extra: Any) -> web.HTTPException:
    """An HTTP error with the project's JSON error shape, to raise."""
    kinds = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden,
             404: web.HTTPNotFound, 413: web.HTTPRequestEntityTooLarge,
             415: web.HTTPUnsupportedMediaType, 422: web.HTTPUnprocessableEntity,
             429: web.HTTPTooManyRequests, 503: web.HTTPServiceUnavailable}
    body = json.dumps({"error": code, "message": message, **extra})
    if status == 413:
        return web.HTTPRequestEntityTooLarge(max_size=extra.get("max_bytes", 0) or 0,
                                             actual_size=extra.get("actual_bytes", 0) or 0,
                                             text=body, content_type="application/json")
    return kinds[status](text=body, content_type="application/json")


async def read_bytes(request: web.Request, *, max_bytes: int) -> bytes:
    """The raw body, refusing more than max_bytes (413) before reading it whole."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise error(413, "too_large", f"body over {max_bytes} bytes", max_bytes=max_bytes,
                    actual_bytes=declared)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise error(413, "too_large", f"body over {max_bytes} bytes", max_bytes=max_bytes,
                        actual_bytes=len(body))
    return bytes(body)


async def read_json(request: web.Request, *, max_bytes: int) -> Any:
    """The body as JSON (any JSON value: callers check the shape), or a 400/413."""
    raw = await read_bytes(request, max_bytes=max_bytes)
    try:
        return loads(raw)
    except BadJson as exc:
        raise error(400, "invalid_json", str(exc)) from None
