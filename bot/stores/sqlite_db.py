"""One SQLite file behind an asyncio interface: a writer connection on its own thread, so the event
loop never waits for a commit, with group commit, so a burst of writes (twenty webhook
acknowledgements at once) costs one fsync instead of twenty; and a read-only connection used
right on the event loop, so reads never wait behind writes (WAL).

Writes run in order; consecutive writes share one transaction, each inside its own savepoint, so
one failing write does not undo the others. A write's future resolves only after the COMMIT that
made it durable (synchronous=FULL in WAL mode: it survives a crash of the process and of the
machine). Reads see every write that was committed before them."""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BATCH = 256
BUSY_TIMEOUT_MS = 5000
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


class DatabaseClosed(RuntimeError):
    pass


@dataclass
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    write: bool
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


_STOP = object()


class SqliteDatabase:
    def __init__(self, path: str | Path, *, migrations: Sequence[str]) -> None:
        """`migrations[i]` brings the schema from version i to i + 1 (PRAGMA user_version)."""
        self._path = str(path)
        self._memory = self._path == ":memory:"
        self._migrations = tuple(migrations)
        self._writes: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # A file gets a second, read-only connection (WAL lets it read while the writer writes),
        # so reads never break a batch of writes. An in-memory database is one connection: its
        # reads queue with the writes on the writer's thread.
        self._reader: sqlite3.Connection | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    async def open(self) -> None:
        async with self._opening:
            if self._thread is None:
                await self._start()

    async def _start(self) -> None:
        if not self._memory:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(loop, ready), daemon=True,
                                        name=f"sqlite writer {Path(self._path).name}")
        self._thread.start()
        try:
            await ready  # the writer migrates the schema before anything reads it
            if not self._memory:
                self._reader = self._connect(migrate=False)
                self._reader.execute("PRAGMA busy_timeout = 0")
        except BaseException:
            await self._shut()
            raise

    async def close(self) -> None:
        if self._thread is None or self._closed:
            return
        self._closed = True
        await self._shut()

    async def _shut(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._thread is not None:
            if self._thread.is_alive():  # one that failed to open has ended already
                self._writes.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None and not self._closed:
            await self.open()
        # Reads of a file run right here, on the event loop: WAL lets them read what was
        # committed while the writer writes, the reads are small and the file is in the OS's
        # cache (tens of microseconds), and a hop to another thread per read cost milliseconds
        # each under load. The rare read that would wait for a lock (WAL recovery after a
        # crash, another process) waits on the writer's thread instead of freezing the loop.
        if self._reader is not None:
            try:
                return fn(self._reader)
            except sqlite3.OperationalError as exc:
                if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) not in _BUSY_CODES:
                    raise
        return await self._submit(fn, write=False)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._submit(fn, write=True)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        if self._closed:
            raise DatabaseClosed(f"{self._path} is closed")
        if self._thread is None:  # opened on first use, so tests need no set-up step
            await self.open()
        loop = asyncio.get_running_loop()
        job = _Job(fn=fn, write=write, future=loop.create_future(), loop=loop)
        self._writes.put(job)
        # Shielded: a cancelled caller must not leave a write half-known; it still completes.
        return await asyncio.shield(job.future)

    # --- the writer thread -------------------------------------------------------------------
    def _run(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        jobs = self._writes
        try:
            connection = self._connect(migrate=True)
        except Exception as exc:  # reported to open()'s caller
            loop.call_soon_threadsafe(_settle, ready, None, exc)
            _refuse_leftovers(jobs, self._path)
            return
        loop.call_soon_threadsafe(_settle, ready, None, None)
        pending: _Job | object | None = None
        try:
            while True:
                job = pending or jobs.get()
                pending = None
                if job is _STOP:
                    break
                assert isinstance(job, _Job)
                if not job.write:
                    self._run_read(connection, job)
                    continue
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        more = jobs.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(more, _Job) and more.write:
                        batch.append(more)
                    else:
                        pending = more  # a read or the stop: after this batch commits
                        break
                self._run_writes(connection, batch)
        finally:
            connection.close()
            _refuse_leftovers(jobs, self._path)

    def _connect(self, *, migrate: bool) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not self._memory:
            connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        # Deleted rows (an answered journal entry, an erased conversation) are zeroed in the
        # file instead of lingering in free pages.
        connection.execute("PRAGMA secure_delete = ON")
        if not migrate:
            connection.execute("PRAGMA query_only = ON")
            return connection
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > len(self._migrations):
            raise RuntimeError(f"{self._path} has schema version {version}, newer than this "
                               f"code knows ({len(self._migrations)}); refusing to touch it")
        for number in range(version, len(self._migrations)):
            connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(self._migrations[number]):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number + 1}")
                connection.execute("COMMIT")
            except Exception:
                connection.execute("ROLLBACK")
                raise
            log.info("sqlite %s: schema migrated to version %d", self._path, number + 1)
        return connection

    @staticmethod
    def _run_read(connection: sqlite3.Connection, job: _Job) -> None:
        try:
            result = job.fn(connection)
        except Exception as exc:
            job.loop.call_soon_threadsafe(_settle, job.future, None, exc)
        else:
            job.loop.call_soon_threadsafe(_settle, job.future, result, None)

    @staticmethod
    def _run_writes(connection: sqlite3.Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            for job in batch:
                connection.execute("SAVEPOINT job")
                try:
                    result = job.fn(connection)
                except Exception as exc:
                    connection.execute("ROLLBACK TO job")
                    connection.execute("RELEASE job")
                    outcomes.append((None, exc))
                else:
                    connection.execute("RELEASE job")
                    outcomes.append((result, None))
            connection.execute("COMMIT")
        except sqlite3.Error as exc:  # the disk is full, the file is gone...: nothing was kept
            log.error("sqlite write batch of %d failed: %s", len(batch), exc)
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            outcomes = [(None, exc)] * len(batch)
        for job, (result, error) in zip(batch, outcomes):
            job.loop.call_soon_threadsafe(_settle, job.future, result, error)


def _refuse_leftovers(jobs: queue.SimpleQueue[_Job | object], path: str) -> None:
    """Jobs queued behind the stop (or behind a failed open) get an answer instead of none."""
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return
        if isinstance(job, _Job):
            job.loop.call_soon_threadsafe(_settle, job.future, None,
                                          DatabaseClosed(f"{path} is closed"))


def _settle(future: asyncio.Future[Any] | None, result: Any, error: BaseException | None) -> None:
    if future is None or future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
