"""Gateway settings that write analytics straight into a SQLite file (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analytics.config import Broker
from tests.analytics.script import KEY, PSEUDONYMS

__all__ = ["KEY", "PSEUDONYMS", "analytics_settings"]


def analytics_settings(path: Path) -> dict[str, Any]:
    url = f"sqlite:///{path}"
    return {"analytics_broker": Broker.STORE, "analytics_broker_url": url,
            "analytics_db_url": url, "analytics_pseudonym_key": KEY}
