"""One way to open a SQLAlchemy engine for the project's own SQL storage (Rasa's trackers,
analytics): on SQLite, WAL (readers never wait for the writer), a busy timeout instead of
"database is locked" when two processes write, and secure delete (erased and expired rows are
overwritten in the file, not just unlinked; some SQLite builds default to it, others not)."""

from __future__ import annotations

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
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.close()
    return engine
