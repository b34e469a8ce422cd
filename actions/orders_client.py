"""Client for the orders service (contract: backends/openapi.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actions.http_client import BackendError, BackendRejected, JsonHttpClient


class OrderNotFound(BackendError):
    pass


class VerificationFailed(BackendError):
    pass


class TooManyAttempts(BackendError):
    pass


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    status: str
    items: list[dict[str, Any]]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    expected_delivery: str | None
    delivered_at: str | None
    status_note: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Order:
        return cls(
            order_id=str(data["order_id"]),
            status=str(data["status"]),
            items=list(data.get("items") or []),
            carrier=data.get("carrier"),
            tracking_number=data.get("tracking_number"),
            tracking_url=data.get("tracking_url"),
            expected_delivery=data.get("expected_delivery"),
            delivered_at=data.get("delivered_at"),
            status_note=data.get("status_note"),
        )


class OrdersClient:
    def __init__(self, http: JsonHttpClient) -> None:
        self._http = http

    async def lookup(self, *, order_id: str, contact: str) -> Order:
        try:
            _, body = await self._http.request(
                "POST", "/v1/orders/lookup", json={"order_id": order_id, "contact": contact}
            )
        except BackendRejected as exc:
            if exc.status == 404:
                raise OrderNotFound(order_id) from exc
            if exc.status == 403:
                raise VerificationFailed(order_id) from exc
            if exc.status == 429:
                raise TooManyAttempts(order_id) from exc
            raise
        return Order.from_json(body)
