"""SQLite stores: the embedded default (`make run` keeps var/gateway.db), so a restart forgets
nothing and the assistant needs nothing installed. One gateway process owns the file; several
instances share Redis instead (bot/stores/redis.py).

`memory_stores()` is the same code on an in-memory database, for tests that need no file."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Collection, Mapping

from bot.messages import InboundMessage
from bot.state import (CASE_BODY_FIELDS, OPEN, Case, CaseStatus, ConversationState,
                       check_conversation_fields)
from bot.stores.base import Handler, JournalEntry, Resumed, Retention, Stores, WorkTicket
from bot.stores.sqlite_db import SqliteDatabase

log = logging.getLogger(__name__)

Clock = Callable[[], float]

MIGRATIONS = (
    """
    CREATE TABLE seen (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
    CREATE INDEX seen_expiry ON seen (expires_at);
    CREATE TABLE sessions (token TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL);
    CREATE INDEX sessions_value ON sessions (value);
    CREATE TABLE transcript (id INTEGER PRIMARY KEY AUTOINCREMENT,
                             conversation_id TEXT NOT NULL, entry TEXT NOT NULL,
                             created_at REAL NOT NULL);
    CREATE INDEX transcript_conversation ON transcript (conversation_id, id);
    CREATE TABLE conversations (conversation_id TEXT PRIMARY KEY, state TEXT NOT NULL,
                                updated_at REAL NOT NULL);
    CREATE TABLE cases (id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL UNIQUE,
                        conversation_id TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL,
                        state TEXT NOT NULL, updated_at REAL NOT NULL);
    CREATE INDEX cases_conversation ON cases (conversation_id);
    CREATE INDEX cases_status ON cases (status, id);
    CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,
                        entry TEXT NOT NULL);
    CREATE TABLE kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                     expires_at REAL NOT NULL, PRIMARY KEY (namespace, key));
    CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL,
                          message TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL);
    CREATE INDEX journal_conversation ON journal (conversation_id, id);
    """,
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _Base:
    def __init__(self, db: SqliteDatabase, clock: Clock) -> None:
        self._db, self._clock = db, clock


class SqliteIdempotencyStore(_Base):
    async def first_seen(self, key: str, *, ttl_s: int) -> bool:
        now = self._clock()
        return await self._db.write(lambda c: _mark_seen(c, key, now, ttl_s))


def _mark_seen(c: sqlite3.Connection, key: str, now: float, ttl_s: int) -> bool:
    c.execute("DELETE FROM seen WHERE key = ? AND expires_at <= ?", (key, now))
    return c.execute("INSERT OR IGNORE INTO seen (key, expires_at) VALUES (?, ?)",
                     (key, now + ttl_s)).rowcount == 1


class SqliteSessionStore(_Base):
    async def get(self, token: str) -> str | None:
        now = self._clock()
        row = await self._db.read(lambda c: c.execute(
            "SELECT value FROM sessions WHERE token = ? AND expires_at > ?", (token, now)
        ).fetchone())
        return row[0] if row else None

    async def put(self, token: str, value: str, *, ttl_s: int) -> None:
        expires = self._clock() + ttl_s
        await self._db.write(lambda c: c.execute(
            "INSERT INTO sessions (token, value, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (token) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at", (token, value, expires)))

    async def delete(self, token: str) -> None:
        await self._db.write(lambda c: c.execute("DELETE FROM sessions WHERE token = ?", (token,)))

    async def delete_for(self, value: str) -> int:
        return await self._db.write(lambda c: c.execute(
            "DELETE FROM sessions WHERE value = ?", (value,)).rowcount)


class SqliteTranscriptStore(_Base):
    async def append(self, conversation_id: str, entry: dict[str, Any], *, limit: int) -> None:
        now, text = self._clock(), _dumps(entry)

        def append(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO transcript (conversation_id, entry, created_at) "
                      "VALUES (?, ?, ?)", (conversation_id, text, now))
            c.execute("DELETE FROM transcript WHERE conversation_id = ? AND id <= ("
                      "SELECT id FROM transcript WHERE conversation_id = ? "
                      "ORDER BY id DESC LIMIT 1 OFFSET ?)", (conversation_id, conversation_id,
                                                             limit))

        await self._db.write(append)

    async def recent(self, conversation_id: str, *, limit: int) -> list[dict[str, Any]]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT entry FROM (SELECT id, entry FROM transcript WHERE conversation_id = ? "
            "ORDER BY id DESC LIMIT ?) ORDER BY id", (conversation_id, limit)).fetchall())
        return [json.loads(r[0]) for r in rows]

    async def delete(self, conversation_id: str) -> None:
        await self._db.write(lambda c: c.execute(
            "DELETE FROM transcript WHERE conversation_id = ?", (conversation_id,)))


class SqliteConversationStore(_Base):
    async def get(self, conversation_id: str) -> ConversationState:
        row = await self._db.read(lambda c: c.execute(
            "SELECT state FROM conversations WHERE conversation_id = ?",
            (conversation_id,)).fetchone())
        return ConversationState.from_dict(json.loads(row[0])) if row else ConversationState()

    async def peek(self, conversation_id: str) -> ConversationState:
        return await self.get(conversation_id)  # reads never wait behind writes here (WAL)

    async def exists(self, conversation_id: str) -> bool:
        row = await self._db.read(lambda c: c.execute(
            "SELECT 1 FROM conversations WHERE conversation_id = ?", (conversation_id,)).fetchone())
        return row is not None

    async def update(self, conversation_id: str, **changes: Any) -> ConversationState:
        check_conversation_fields(changes)
        return await self._merge(conversation_id, changes, {})

    async def update_channel_data(self, conversation_id: str,
                                  changes: Mapping[str, Any]) -> ConversationState:
        return await self._merge(conversation_id, {}, dict(changes))

    async def _merge(self, conversation_id: str, changes: dict[str, Any],
                     channel_changes: dict[str, Any]) -> ConversationState:
        now = self._clock()
        plain = {k: _plain(v) for k, v in changes.items()}

        def merge(c: sqlite3.Connection) -> dict[str, Any]:
            row = c.execute("SELECT state FROM conversations WHERE conversation_id = ?",
                            (conversation_id,)).fetchone()
            state = json.loads(row[0]) if row else {}
            state.update(plain)
            if channel_changes:
                state["channel_data"] = {**(state.get("channel_data") or {}),
                                         **_plain(channel_changes)}
            c.execute("INSERT INTO conversations (conversation_id, state, updated_at) "
                      "VALUES (?, ?, ?) ON CONFLICT (conversation_id) DO UPDATE SET "
                      "state = excluded.state, updated_at = excluded.updated_at",
                      (conversation_id, _dumps(state), now))
            return state

        return ConversationState.from_dict(await self._db.write(merge))

    async def delete(self, conversation_id: str) -> None:
        await self._db.write(lambda c: c.execute(
            "DELETE FROM conversations WHERE conversation_id = ?", (conversation_id,)))


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class SqliteHandoffCaseStore(_Base):
    async def create(self, case: Case) -> None:
        now = self._clock()
        body, state = _dumps(_plain(case.body())), _dumps(_plain(case.mutable()))
        await self._db.write(lambda c: c.execute(
            "INSERT INTO cases (case_id, conversation_id, status, body, state, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (case.case_id, case.conversation_id, str(case.status), body, state, now)))

    async def get(self, case_id: str) -> Case | None:
        row = await self._db.read(lambda c: c.execute(
            "SELECT body, state FROM cases WHERE case_id = ?", (case_id,)).fetchone())
        return _case(row) if row else None

    async def open_case_for(self, conversation_id: str) -> Case | None:
        statuses = tuple(str(s) for s in OPEN)
        row = await self._db.read(lambda c: c.execute(
            f"SELECT body, state FROM cases WHERE conversation_id = ? AND status IN "
            f"({','.join('?' * len(statuses))}) ORDER BY id DESC LIMIT 1",
            (conversation_id, *statuses)).fetchone())
        return _case(row) if row else None

    async def transition(self, case_id: str, *, from_statuses: Collection[CaseStatus],
                         to: CaseStatus, **fields: Any) -> Case | None:
        _check_case_fields(fields)
        allowed = {str(s) for s in from_statuses}
        now = self._clock()

        def transition(c: sqlite3.Connection) -> tuple[str, str] | None:
            row = c.execute("SELECT body, state, status FROM cases WHERE case_id = ?",
                            (case_id,)).fetchone()
            if row is None or row[2] not in allowed:
                return None
            state = {**json.loads(row[1]), **_plain(fields), "status": str(to)}
            c.execute("UPDATE cases SET status = ?, state = ?, updated_at = ? WHERE case_id = ?",
                      (str(to), _dumps(state), now, case_id))
            return row[0], _dumps(state)

        row = await self._db.write(transition)
        return _case(row) if row else None

    async def update(self, case_id: str, **fields: Any) -> Case | None:
        _check_case_fields(fields)
        if "status" in fields:
            raise ValueError("the status changes only through transition()")
        now = self._clock()

        def update(c: sqlite3.Connection) -> tuple[str, str] | None:
            row = c.execute("SELECT body, state FROM cases WHERE case_id = ?",
                            (case_id,)).fetchone()
            if row is None:
                return None
            state = {**json.loads(row[1]), **_plain(fields)}
            c.execute("UPDATE cases SET state = ?, updated_at = ? WHERE case_id = ?",
                      (_dumps(state), now, case_id))
            return row[0], _dumps(state)

        row = await self._db.write(update)
        return _case(row) if row else None

    async def queue_position(self, case_id: str) -> int | None:
        ids = [c.case_id for c in await self.waiting()]
        return ids.index(case_id) + 1 if case_id in ids else None

    async def waiting(self) -> list[Case]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT body, state FROM cases WHERE status IN (?, ?) "
            "ORDER BY CASE status WHEN ? THEN 0 ELSE 1 END, id",
            (str(CaseStatus.FOLLOW_UP), str(CaseStatus.QUEUED), str(CaseStatus.FOLLOW_UP))
        ).fetchall())
        return [_case(r) for r in rows]

    async def recent(self, *, limit: int) -> list[Case]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT body, state FROM cases ORDER BY id DESC LIMIT ?", (limit,)).fetchall())
        return [_case(r) for r in rows]

    async def delete_for(self, conversation_id: str) -> list[Case]:
        def delete(c: sqlite3.Connection) -> list[tuple[str, str]]:
            rows = c.execute("SELECT body, state FROM cases WHERE conversation_id = ?",
                             (conversation_id,)).fetchall()
            c.execute("DELETE FROM cases WHERE conversation_id = ?", (conversation_id,))
            return rows

        return [_case(r) for r in await self._db.write(delete)]


def _case(row: tuple[str, str] | tuple[str, str, str]) -> Case:
    return Case.from_parts(json.loads(row[0]), json.loads(row[1]))


def _check_case_fields(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - {"agent", "claimed_at", "closed_at", "csat", "follow_up_contact",
                             "slack_ts", "status"}
    if unknown or set(fields) & set(CASE_BODY_FIELDS):
        raise TypeError(f"not a mutable case field: {', '.join(sorted(unknown))}")


class SqliteAuditLog(_Base):
    async def record(self, entry: dict[str, Any]) -> None:
        now, text = self._clock(), _dumps(entry)
        await self._db.write(lambda c: c.execute(
            "INSERT INTO audit (ts, entry) VALUES (?, ?)", (now, text)))

    async def recent(self, *, limit: int) -> list[dict[str, Any]]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT entry FROM (SELECT id, entry FROM audit ORDER BY id DESC LIMIT ?) "
            "ORDER BY id", (limit,)).fetchall())
        return [json.loads(r[0]) for r in rows]


class SqliteKeyValueStore(_Base):
    async def get(self, namespace: str, key: str) -> Any | None:
        now = self._clock()
        row = await self._db.read(lambda c: c.execute(
            "SELECT value FROM kv WHERE namespace = ? AND key = ? AND expires_at > ?",
            (namespace, key, now)).fetchone())
        return json.loads(row[0]) if row else None

    async def put(self, namespace: str, key: str, value: Any, *, ttl_s: int,
                  listed: bool = False) -> None:  # every row can be listed: no index to keep
        expires, text = self._clock() + ttl_s, _dumps(value)
        await self._db.write(lambda c: c.execute(
            "INSERT INTO kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at", (namespace, key, text, expires)))

    async def delete(self, namespace: str, key: str) -> None:
        await self._db.write(lambda c: c.execute(
            "DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key)))

    async def keys(self, namespace: str) -> list[str]:
        now = self._clock()
        rows = await self._db.read(lambda c: c.execute(
            "SELECT key FROM kv WHERE namespace = ? AND expires_at > ? ORDER BY key",
            (namespace, now)).fetchall())
        return [r[0] for r in rows]


class LocalWorkQueue:
    """Work notices within one process."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] | None = None
        self._next_id = 0

    def _q(self) -> asyncio.Queue[str]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        return self._queue

    async def notify(self, conversation_id: str) -> None:
        self._q().put_nowait(conversation_id)

    async def next(self, *, timeout_s: float) -> list[WorkTicket]:
        queue = self._q()
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
            # arrives as the item does, and then a stopping gateway waits forever.
            async with asyncio.timeout(timeout_s):
                first = await queue.get()
        except TimeoutError:
            return []
        cids = [first]
        while not queue.empty():
            cids.append(queue.get_nowait())
        tickets = []
        for cid in cids:
            self._next_id += 1
            tickets.append(WorkTicket(cid, str(self._next_id), ours=True))  # one process
        return tickets

    async def done(self, ticket: WorkTicket) -> None:
        return None

    async def reclaim(self) -> list[WorkTicket]:
        return []


class SqliteIntakeJournal(_Base):
    def __init__(self, db: SqliteDatabase, clock: Clock, retention: Retention,
                 work: LocalWorkQueue) -> None:
        super().__init__(db, clock)
        self._retention, self._work = retention, work

    async def append(self, message: InboundMessage, *, dedupe_key: str) -> JournalEntry | None:
        now = self._clock()
        text = _dumps(message.to_dict())
        state = _dumps({"progress": "received"})
        ttl = self._retention.dedupe_s

        def append(c: sqlite3.Connection) -> int | None:
            if not _mark_seen(c, dedupe_key, now, ttl):
                return None
            return c.execute("INSERT INTO journal (conversation_id, message, state, created_at) "
                             "VALUES (?, ?, ?, ?)",
                             (message.conversation_id, text, state, now)).lastrowid

        row_id = await self._db.write(append)
        if row_id is None:
            return None
        await self._work.notify(message.conversation_id)
        return JournalEntry(entry_id=str(row_id), message=message, created_at=now)

    async def entries(self, conversation_id: str) -> list[JournalEntry]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT id, message, state, created_at FROM journal WHERE conversation_id = ? "
            "ORDER BY id", (conversation_id,)).fetchall())
        return [JournalEntry.from_parts(entry_id=str(r[0]), message=json.loads(r[1]),
                                        state=json.loads(r[2]), created_at=r[3]) for r in rows]

    async def save(self, entry: JournalEntry) -> None:
        text = _dumps(entry.state_dict())
        await self._db.write(lambda c: c.execute(
            "UPDATE journal SET state = ? WHERE id = ?", (text, int(entry.entry_id))))

    async def remove(self, entry: JournalEntry) -> None:
        await self._db.write(lambda c: c.execute(
            "DELETE FROM journal WHERE id = ?", (int(entry.entry_id),)))

    async def conversations(self) -> list[str]:
        rows = await self._db.read(lambda c: c.execute(
            "SELECT conversation_id FROM journal GROUP BY conversation_id ORDER BY MIN(id)"
        ).fetchall())
        return [r[0] for r in rows]

    async def delete_for(self, conversation_id: str) -> int:
        return await self._db.write(lambda c: c.execute(
            "DELETE FROM journal WHERE conversation_id = ?", (conversation_id,)).rowcount)


class LocalConversationLock:
    """asyncio locks: enough for one gateway process (the SQLite default)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._users[conversation_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._release(conversation_id)

    @asynccontextmanager
    async def try_hold(self, conversation_id: str) -> AsyncIterator[bool]:
        lock = self._locks.get(conversation_id)
        if lock is not None and lock.locked():
            yield False
            return
        async with self.hold(conversation_id):
            yield True

    def _release(self, conversation_id: str) -> None:
        self._users[conversation_id] -= 1
        if not self._users[conversation_id]:  # forget idle conversations
            del self._users[conversation_id]
            self._locks.pop(conversation_id, None)


class LocalBus:
    """Publish/subscribe within one process."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        for handler in list(self._handlers.get(topic, ())):
            try:
                await handler(message)
            except Exception:  # one broken subscriber must not stop the others
                log.exception("bus subscriber of %s failed", topic)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def on_resume(self, handler: Resumed) -> None:
        pass  # in one process nothing is ever missed


def _sweep(c: sqlite3.Connection, now: float, retention: Retention) -> int:
    removed = 0
    for sql, args in (
        ("DELETE FROM seen WHERE expires_at <= ?", (now,)),
        ("DELETE FROM sessions WHERE expires_at <= ?", (now,)),
        ("DELETE FROM kv WHERE expires_at <= ?", (now,)),
        ("DELETE FROM transcript WHERE created_at <= ?", (now - retention.transcripts_s,)),
        ("DELETE FROM conversations WHERE updated_at <= ?", (now - retention.conversations_s,)),
        ("DELETE FROM cases WHERE updated_at <= ?", (now - retention.cases_s,)),
        ("DELETE FROM audit WHERE ts <= ?", (now - retention.audit_s,)),
    ):
        removed += c.execute(sql, args).rowcount
    dropped = c.execute("DELETE FROM journal WHERE created_at <= ?",
                        (now - retention.journal_s,)).rowcount
    if dropped:
        log.warning("journal: %d message(s) older than %d days were never answered and were "
                    "dropped", dropped, retention.journal_s // 86400)
    return removed + dropped


def sqlite_stores(path: str | Path, *, retention: Retention | None = None,
                  clock: Clock = time.time) -> Stores:
    retention = retention or Retention()
    db = SqliteDatabase(path, migrations=MIGRATIONS)

    async def sweep() -> int:
        now = clock()
        return await db.write(lambda c: _sweep(c, now, retention))

    work = LocalWorkQueue()
    return Stores(
        kind="sqlite" if str(path) != ":memory:" else "in-memory",
        idempotency=SqliteIdempotencyStore(db, clock),
        sessions=SqliteSessionStore(db, clock),
        transcripts=SqliteTranscriptStore(db, clock),
        conversations=SqliteConversationStore(db, clock),
        cases=SqliteHandoffCaseStore(db, clock),
        locks=LocalConversationLock(),
        audit=SqliteAuditLog(db, clock),
        kv=SqliteKeyValueStore(db, clock),
        journal=SqliteIntakeJournal(db, clock, retention, work),
        work=work,
        bus=LocalBus(),
        retention=retention,
        start=db.open,
        close=db.close,
        sweep=sweep,
    )


def memory_stores(*, retention: Retention | None = None, clock: Clock = time.time) -> Stores:
    """The SQLite stores on an in-memory database: what unit tests use."""
    return sqlite_stores(":memory:", retention=retention, clock=clock)
