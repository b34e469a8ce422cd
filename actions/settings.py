"""Action-server configuration from the environment (secrets never logged)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class ActionSettings:
    orders_api_url: str = "http://127.0.0.1:8081"
    identity_api_url: str = "http://127.0.0.1:8081"
    backend_api_token: str | None = field(default=None, repr=False)
    backend_timeout_s: float = 4.0
    backend_retries: int = 2
    gateway_handoff_url: str = "http://127.0.0.1:8080/handoff/v1/cases"
    handoff_secret: str | None = field(default=None, repr=False)
    reset_limit_per_hour: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ActionSettings:
        env = os.environ if env is None else env
        return cls(
            orders_api_url=env.get("ORDERS_API_URL", cls.orders_api_url).rstrip("/"),
            identity_api_url=env.get("IDENTITY_API_URL", cls.identity_api_url).rstrip("/"),
            backend_api_token=env.get("BACKEND_API_TOKEN") or None,
            backend_timeout_s=float(env.get("BACKEND_TIMEOUT_S", cls.backend_timeout_s)),
            backend_retries=int(env.get("BACKEND_RETRIES", cls.backend_retries)),
            gateway_handoff_url=env.get("GATEWAY_HANDOFF_URL", cls.gateway_handoff_url),
            handoff_secret=env.get("HANDOFF_SECRET") or None,
            reset_limit_per_hour=int(env.get("RESET_LIMIT_PER_HOUR", cls.reset_limit_per_hour)),
        )
