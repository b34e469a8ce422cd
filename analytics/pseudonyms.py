"""The pseudonym key: every process that writes analytics (Rasa, the gateway, the consumer) and
the deletion flow must use the same one. From ANALYTICS_PSEUDONYM_KEY; `make run` keeps one in
var/analytics.key."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Mapping

from analytics.records import Pseudonyms

ENV = "ANALYTICS_PSEUDONYM_KEY"


class MissingKey(RuntimeError):
    pass


def pseudonyms_from_env(env: Mapping[str, str] | None = None) -> Pseudonyms:
    env = os.environ if env is None else env
    key = env.get(ENV, "")
    if len(key) < 16:
        raise MissingKey(f"{ENV} must be set to a secret of at least 16 characters (the same "
                         "for Rasa, the gateway and the analytics consumer)")
    return Pseudonyms(key.encode("utf-8"))


def stored_key(path: Path) -> str:
    """A key kept in a file of the embedded default's state directory, made once."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
