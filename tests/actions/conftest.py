"""Action tests: real rasa-sdk actions against fake backends on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.conftest import Serve
from tests.fakes.backend import FakeBackend


@pytest.fixture
async def backend(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    fake = FakeBackend()
    url = await serve(fake.app())
    monkeypatch.setenv("ORDERS_API_URL", url)
    monkeypatch.setenv("IDENTITY_API_URL", url)
    monkeypatch.setenv("BACKEND_TIMEOUT_S", "0.5")
    monkeypatch.setenv("BACKEND_RETRIES", "2")
    return fake


def tracker(*, slots: dict[str, Any] | None = None, events: list[dict[str, Any]] | None = None,
            latest: dict[str, Any] | None = None, sender: str = "web:test",
            active_loop: dict[str, Any] | None = None) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message=latest or {"intent": {"name": "order_status", "confidence": 0.9}, "text": ""},
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop=active_loop or {},
        latest_action_name=None,
    )


def said(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("text") or m.get("response") or "" for m in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
