"""The handoff package's JSON Schema (schemas/handoff-package-v1.json), shared by the gateway,
which validates packages, and the action server, which builds them. Its channel enum follows
channels/registry.py (tests/unit/test_channel_facts.py keeps the two equal)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).parent / "schemas" / "handoff-package-v1.json"
UNKNOWN_CHANNEL = "unknown"


@lru_cache(maxsize=1)
def package_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())  # type: ignore[no-any-return]


def package_channel(channel: str) -> str:
    """The package's channel field: the channel, or "unknown" for one the schema does not list."""
    known = package_schema()["properties"]["channel"]["enum"]
    return channel if channel in known else UNKNOWN_CHANNEL
