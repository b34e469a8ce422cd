"""The SQLite file behind the embedded stores: a file it must not touch is refused every time,
and nobody waits for ever on it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.stores.sqlite_db import DatabaseClosed, SqliteDatabase

MIGRATIONS = ["CREATE TABLE t (x INTEGER)"]


def newer_file(tmp_path: Path) -> Path:
    path = tmp_path / "newer.db"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    return path


async def test_a_file_with_a_newer_schema_is_refused_at_every_try(tmp_path: Path) -> None:
    db = SqliteDatabase(newer_file(tmp_path), migrations=MIGRATIONS)
    for _ in range(3):
        with pytest.raises(RuntimeError, match="newer than this code knows"):
            await asyncio.wait_for(db.write(lambda c: c.execute("SELECT 1")), 5)


async def test_a_failed_open_leaves_nothing_behind_for_the_next(tmp_path: Path) -> None:
    path = newer_file(tmp_path)
    db = SqliteDatabase(path, migrations=MIGRATIONS)
    with pytest.raises(RuntimeError):
        await db.write(lambda c: c.execute("SELECT 1"))
    connection = sqlite3.connect(path)  # the operator restores a file this code knows
    connection.execute("CREATE TABLE t (x INTEGER)")
    connection.execute("PRAGMA user_version = 1")
    connection.close()
    await asyncio.wait_for(db.write(lambda c: c.execute("INSERT INTO t VALUES (1)")), 5)
    assert await db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 1
    await db.close()


async def test_a_write_after_close_is_refused(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "g.db", migrations=MIGRATIONS)
    await db.write(lambda c: c.execute("INSERT INTO t VALUES (1)"))
    await db.close()
    with pytest.raises(DatabaseClosed):
        await db.write(lambda c: c.execute("INSERT INTO t VALUES (2)"))


async def test_reads_see_committed_writes(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "g.db", migrations=MIGRATIONS)
    await asyncio.gather(*(db.write(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,)))
                           for i in range(20)))
    assert await db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 20
    await db.close()


async def test_a_read_that_finds_the_file_locked_is_retried_on_the_writers_thread(
        tmp_path: Path) -> None:
    # A lock held elsewhere (WAL recovery after a crash, another process) must not freeze the
    # event loop for the busy timeout: the read is handed to the thread that may wait.
    db = SqliteDatabase(tmp_path / "g.db", migrations=MIGRATIONS)
    await db.write(lambda c: c.execute("INSERT INTO t VALUES (1)"))
    threads: list[str] = []

    def read(c: sqlite3.Connection) -> int:
        threads.append(threading.current_thread().name)
        if len(threads) == 1:
            busy = sqlite3.OperationalError("database is locked")
            busy.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
            raise busy
        return int(c.execute("SELECT count(*) FROM t").fetchone()[0])

    assert await db.read(read) == 1
    assert threads[0] == threading.main_thread().name
    assert threads[1].startswith("sqlite writer")
    await db.close()


async def test_any_other_read_error_reaches_the_caller(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "g.db", migrations=MIGRATIONS)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await db.read(lambda c: c.execute("SELECT * FROM missing").fetchall())
    await db.close()
