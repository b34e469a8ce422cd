"""Client for the identity service (contract: backends/openapi.yaml)."""

from __future__ import annotations

from actions.http_client import BackendError, BackendRejected, JsonHttpClient


class ResetRateLimited(BackendError):
    pass


class IdentityClient:
    def __init__(self, http: JsonHttpClient) -> None:
        self._http = http

    async def request_password_reset(self, *, login: str) -> None:
        """Ask the service to e-mail a reset link. It answers the same whether or not the
        account exists, and so do we."""
        try:
            await self._http.request(
                "POST", "/v1/password-resets", json={"login": login}, idempotent=False
            )
        except BackendRejected as exc:
            if exc.status == 429:
                raise ResetRateLimited(login) from exc
            raise
