"""One origin check for the browser-facing endpoints (web chat websocket, agent console): the
request's Origin must be the origin the browser sees for us, which behind a TLS-terminating
proxy comes from the first value of X-Forwarded-Proto and X-Forwarded-Host."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.http_origin import origin_allowed, own_origin

PROXIED = {"Host": "10.0.0.5:8080", "X-Forwarded-Proto": "https, http",
           "X-Forwarded-Host": "help.example.com, gateway.internal:8080"}


def request(**headers: str):  # type: ignore[no-untyped-def]
    return make_mocked_request("GET", "/webchat/ws", headers=headers)


def test_behind_a_proxy_the_browsers_origin_is_the_first_forwarded_one() -> None:
    assert own_origin(request(**PROXIED)) == "https://help.example.com"


@pytest.mark.parametrize(("origin", "allowed"), [
    ("https://help.example.com", True), ("https://help.example.com/", True),
    ("http://help.example.com", False), ("https://evil.example", False),
])
def test_only_our_own_origin_is_allowed(origin: str, allowed: bool) -> None:
    assert origin_allowed(request(**PROXIED, Origin=origin)) is allowed


def test_extra_origins_can_be_allowed() -> None:
    shop = request(**PROXIED, Origin="https://shop.example.com")
    assert origin_allowed(shop, also=["https://shop.example.com/"])


@pytest.mark.parametrize(("required", "allowed"), [(True, False), (False, True)])
def test_a_request_without_origin_passes_only_where_it_is_not_required(
        required: bool, allowed: bool) -> None:
    assert origin_allowed(request(**PROXIED), required=required) is allowed
