"""The handoff package's JSON Schema (schemas/handoff-package-v1.json), shared by the gateway,
which validates packages, and the action server, which builds them. Its channel field is any
channel name (channels/registry.py names them), so a new channel needs no schema edit."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).parent / "schemas" / "handoff-package-v1.json"
UNKNOWN_CHANNEL = "unknown"


@lru_cache(maxsize=1)
def package_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())  # type: ignore[no-any-return]


def package_channel(channel: str) -> str:
    """The package's channel field: the channel's name, or "unknown" for what is not one."""
    pattern = package_schema()["properties"]["channel"]["pattern"]
    return channel if re.fullmatch(pattern, channel or "") else UNKNOWN_CHANNEL
