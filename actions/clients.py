"""Backend clients built from the environment; one place decides URLs, tokens and timeouts."""

from __future__ import annotations

from actions.handoff_client import HandoffClient
from actions.http_client import JsonHttpClient, SharedSession
from actions.identity_client import IdentityClient
from actions.orders_client import OrdersClient
from actions.settings import ActionSettings


# The action server's one session for every backend call (opened and closed with the server).
SHARED_HTTP = SharedSession()


def settings() -> ActionSettings:
    # Read per call: cheap, and tests can point the actions at their own fake servers.
    return ActionSettings.from_env()


def orders_client(cfg: ActionSettings) -> OrdersClient:
    return OrdersClient(JsonHttpClient(base_url=cfg.orders_api_url, token=cfg.backend_api_token,
                                       timeout_s=cfg.backend_timeout_s, retries=cfg.backend_retries,
                                       name="orders", session=SHARED_HTTP.session))


def identity_client(cfg: ActionSettings) -> IdentityClient:
    return IdentityClient(JsonHttpClient(base_url=cfg.identity_api_url, token=cfg.backend_api_token,
                                         timeout_s=cfg.backend_timeout_s,
                                         retries=cfg.backend_retries, name="identity",
                                         session=SHARED_HTTP.session))


def handoff_client(cfg: ActionSettings) -> HandoffClient:
    return HandoffClient(url=cfg.gateway_handoff_url, secret=cfg.handoff_secret,
                         session=SHARED_HTTP.session)
