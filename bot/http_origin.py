"""Where a browser request comes from, checked one way for the web chat websocket and the agent
console (CSRF and cross-site websockets). Behind a TLS-terminating proxy the browser's origin is
https and the proxy's host, while we see http: X-Forwarded-Proto and X-Forwarded-Host say so
(their first value, the client's side of the first proxy)."""

from __future__ import annotations

from typing import Collection

from aiohttp import web


def _first(value: str) -> str:
    return value.split(",")[0].strip()


def is_https(request: web.Request) -> bool:
    return _first(request.headers.get("X-Forwarded-Proto", request.scheme)) == "https"


def own_origin(request: web.Request) -> str:
    """The origin the browser sees for this server."""
    scheme = _first(request.headers.get("X-Forwarded-Proto", request.scheme))
    host = _first(request.headers.get("X-Forwarded-Host", request.host))
    return f"{scheme}://{host}"


def origin_allowed(request: web.Request, *, also: Collection[str] = (),
                   required: bool = True) -> bool:
    """Whether the request's Origin is this server's own (or one of `also`). required=False:
    a request without Origin passes (not a browser: browsers always send it on websockets and
    on cross-site POSTs)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return not required
    origin = origin.rstrip("/")
    return origin == own_origin(request) or origin in {o.rstrip("/") for o in also}
