"""One way to open a SQLAlchemy engine for the project's own SQL storage (Rasa's trackers,
analytics): on SQLite, WAL (readers never wait for the writer), a busy timeout instead of
"database is locked" when two processes write, and secure delete (erased and expired rows are
overwritten in the file, not just unlinked; some SQLite builds default to it, others not)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa


def open_engine(url: str, *, busy_timeout_s: float = 10.0) -> sa.engine.Engine:
    connect_args: dict[str, Any] = {}
    if url.startswith("sqlite"):
        connect_args = {"timeout": busy_timeout_s, "check_same_thread": False}
    engine = sa.create_engine(url, future=True, connect_args=connect_args, pool_pre_ping=True)
    if url.startswith("sqlite"):
        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            # The timeout first: switching to WAL takes a lock another process may hold, and
            # once the file is in WAL (it stays so) there is nothing to switch.
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            _switch_to_wal(cursor, busy_timeout_s)
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.close()
    return engine


def _switch_to_wal(cursor: Any, within_s: float) -> None:
    """Switching a new file's journal needs it to itself, and SQLite answers "database is
    locked" at once (no busy handler) while another process opens it too: tried again until
    the other one has switched it."""
    deadline = time.monotonic() + within_s
    while str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
