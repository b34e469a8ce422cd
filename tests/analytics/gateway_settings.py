"""Gateway settings that write analytics straight into a SQLite file (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analytics.config import Broker
from analytics.records import Pseudonyms

KEY = "a-test-pseudonym-key-of-some-length"
PSEUDONYMS = Pseudonyms(KEY.encode())


def analytics_settings(path: Path) -> dict[str, Any]:
    url = f"sqlite:///{path}"
    return {"analytics_broker": Broker.STORE, "analytics_broker_url": url,
            "analytics_db_url": url, "analytics_pseudonym_key": KEY}
