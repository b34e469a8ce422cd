"""Client for the identity service (contract: backends/openapi.yaml)."""

from __future__ import annotations

import re

from actions.http_client import BackendError, BackendRejected, JsonHttpClient

# What customers type around a code: "123 456", "123-456", "code: 123456".
_CODE_IN_TEXT = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})(?!\d)")


class ResetRateLimited(BackendError):
    pass


class DeletionRateLimited(BackendError):
    """Several codes were sent for this login within the hour; the latest may still work."""


class DeletionCodeRejected(BackendError):
    """Wrong, expired, used or burnt: the service does not say which, and nor can we."""


def deletion_code_in(text: str) -> str | None:
    """The 6-digit code in what the customer typed, or None when there is no (single) one."""
    found = {a + b for a, b in _CODE_IN_TEXT.findall(text or "")}
    return found.pop() if len(found) == 1 else None


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

    async def request_account_deletion(self, *, login: str) -> None:
        """Ask the service to e-mail a one-time deletion code. Same answer whether or not the
        account exists. Not retried after the request went out: each try sends an e-mail."""
        try:
            await self._http.request(
                "POST", "/v1/account-deletions", json={"login": login}, idempotent=False
            )
        except BackendRejected as exc:
            if exc.status == 429:
                raise DeletionRateLimited("deletion codes rate-limited") from exc
            raise

    async def confirm_account_deletion(self, *, login: str, code: str) -> None:
        """Delete the account with the code from the e-mail; returns once it is deleted.

        Not retried after the request went out: a lost answer to a deletion that happened would
        come back as a refusal, and a wrong code counts against the code's tries."""
        try:
            await self._http.request(
                "POST", "/v1/account-deletions/confirm", json={"login": login, "code": code},
                idempotent=False,
            )
        except BackendRejected as exc:
            if exc.status == 403:
                # The exception carries no code: it may end up in a log line.
                raise DeletionCodeRejected("deletion code refused") from None
            raise
