"""How analytics events travel, the same setting for Rasa and the gateway (ANALYTICS_BROKER)."""

from __future__ import annotations

from enum import StrEnum


class Broker(StrEnum):
    NONE = "none"    # no analytics
    STORE = "store"  # straight into the analytics database (the embedded default)
    PIKA = "pika"    # spooled, then through RabbitMQ to the analytics consumer (production)
