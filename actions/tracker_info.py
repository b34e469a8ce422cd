"""Reading who and where the customer is from a tracker (the gateway puts it in message metadata)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker


def message_metadata(tracker: Tracker) -> dict[str, Any]:
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("metadata"):
            return dict(event["metadata"])
    return {}


def channel_and_customer(tracker: Tracker) -> tuple[str, str]:
    metadata = message_metadata(tracker)
    channel = str(metadata.get("channel") or tracker.sender_id.partition(":")[0] or "unknown")
    customer = str(metadata.get("customer_id") or tracker.sender_id)
    return channel, customer
