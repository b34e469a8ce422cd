"""One SQLite file behind an asyncio interface: a writer connection and a reader connection, each
on its own thread, so the event loop never blocks on the disk, reads never wait behind writes
(WAL), and group commit, so a burst of writes (twenty webhook acknowledgements at once) costs one
fsync instead of twenty.

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
        # A file gets a second connection for reads (WAL lets it read while the writer writes):
        # reads never break a batch of writes, so a burst of writes costs one fsync. An
        # in-memory database is one connection: its reads queue with the writes.
        self._reads = self._writes if self._memory else queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._opening = asyncio.Lock()
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    async def open(self) -> None:
        async with self._opening:
            if not self._threads:
                await self._start()

    async def _start(self) -> None:
        if not self._memory:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        roles = [("writer", self._writes)] if self._memory else [("writer", self._writes),
                                                                  ("reader", self._reads)]
        try:
            for role, jobs in roles:  # the writer first: it migrates the schema
                loop = asyncio.get_running_loop()
                ready: asyncio.Future[None] = loop.create_future()
                thread = threading.Thread(target=self._run, args=(loop, ready, jobs, role),
                                          daemon=True, name=f"sqlite {role} {Path(self._path).name}")
                thread.start()
                self._threads.append(thread)
                await ready
        except BaseException:
            await self._stop_threads()
            raise

    async def close(self) -> None:
        if not self._threads or self._closed:
            return
        self._closed = True
        await self._stop_threads()

    async def _stop_threads(self) -> None:
        for jobs in {id(self._writes): self._writes, id(self._reads): self._reads}.values():
            jobs.put(_STOP)
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        self._threads = []

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._submit(fn, write=False)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._submit(fn, write=True)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        if self._closed:
            raise DatabaseClosed(f"{self._path} is closed")
        if not self._threads:  # opened on first use, so tests need no set-up step
            await self.open()
        loop = asyncio.get_running_loop()
        job = _Job(fn=fn, write=write, future=loop.create_future(), loop=loop)
        (self._writes if write else self._reads).put(job)
        # Shielded: a cancelled caller must not leave a write half-known; it still completes.
        return await asyncio.shield(job.future)

    # --- the database threads ----------------------------------------------------------------
    def _run(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None],
             jobs: queue.SimpleQueue[_Job | object], role: str) -> None:
        try:
            connection = self._connect(migrate=role == "writer")
        except Exception as exc:  # reported to open()'s caller
            loop.call_soon_threadsafe(_settle, ready, None, exc)
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


def _settle(future: asyncio.Future[Any] | None, result: Any, error: BaseException | None) -> None:
    if future is None or future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
