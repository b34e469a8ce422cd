"""Pushes a handoff package to the gateway's handoff endpoint (shared secret in a header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from actions.http_client import JsonHttpClient


@dataclass(frozen=True, slots=True)
class HandoffReceipt:
    case_id: str
    status: str
    queue_position: int | None
    customer_message: str


class HandoffClient:
    def __init__(self, *, url: str, secret: str | None, timeout_s: float = 5.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        self._http = JsonHttpClient(base_url=url, token=secret, timeout_s=timeout_s,
                                    retries=1, name="gateway-handoff", session=session)

    async def open_case(self, package: dict[str, Any]) -> HandoffReceipt:
        # Safe to retry: the gateway keeps one open case per conversation.
        _, body = await self._http.request("POST", "", json=package)
        return HandoffReceipt(
            case_id=str(body["case_id"]),
            status=str(body["status"]),
            queue_position=body.get("queue_position"),
            customer_message=str(body["customer_message"]),
        )
