"""Where Rasa's conversation events are kept: one storage layer with two backends, SQL
(SQLite by default, PostgreSQL in production; SQLAlchemy Core) and Redis. Rasa-free, so the
gateway uses the same code to erase a conversation as the Rasa server uses to store it
(bot/rasa_tracker_store.py).

Designed for what comes next, too:
- append-only: a save writes only the new events, never rewrites the conversation;
- a conversation row (SQL) / meta hash (Redis) keeps where the current session starts, so a read
  fetches the current session only (bounded retrieval) without scanning;
- events arrive here already redacted (the tracker store does it); `mask_contacts` rewrites the
  events of sessions that are over, and `sweep` masks idle conversations and deletes expired ones.

SQL layout: helpdesk_tracker_events (id, sender_id, type_name, timestamp, data JSON) and
helpdesk_tracker_conversations (sender_id, session_start_id, session_length, last_event_at,
contacts_masked_to). Redis layout, under <prefix>:tracker: events:<sender> (a list of JSON events)
and meta:<sender> (a hash); both expire `retention_s` after the last event."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

log = logging.getLogger(__name__)

Event = dict[str, Any]
Masker = Callable[[Event], Event]
DAY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class TrackerRetention:
    retention_s: int = 30 * DAY_S  # a conversation idle this long is deleted
    contacts_s: int = DAY_S        # e-mails and phone numbers are masked once idle this long


class TrackerStorage(Protocol):
    async def append(self, sender_id: str, events: Sequence[Event]) -> None:
        """Store new events (already redacted) after the conversation's existing ones."""
        ...

    async def session_events(self, sender_id: str) -> list[Event]:
        """The events of the conversation's latest session (all of them before any session
        start), oldest first; [] for an unknown conversation."""
        ...

    async def all_events(self, sender_id: str) -> list[Event]: ...

    async def session_length(self, sender_id: str) -> int:
        """How many events the latest session has (what a save skips)."""
        ...

    async def delete(self, sender_id: str) -> int:
        """Delete the conversation; returns how many events were deleted."""
        ...

    async def senders(self) -> list[str]: ...

    async def sweep(self, mask: Masker, *, now: float | None = None) -> tuple[int, int]:
        """Mask contacts of idle conversations and delete expired ones; (masked, deleted)."""
        ...

    async def close(self) -> None: ...


def _is_session_start(event: Mapping[str, Any]) -> bool:
    return event.get("event") == "session_started"


def _dumps(event: Event) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


# --- SQL ----------------------------------------------------------------------------------------
class SqlTrackerStorage:
    """SQLAlchemy Core on any URL Rasa's SQL store accepts (sqlite:///..., postgresql://...).
    Calls run in a worker thread: the event loop never waits on the database."""

    def __init__(self, url: str, *, retention: TrackerRetention | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self._retention = retention or TrackerRetention()
        self._clock = clock
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args = {"timeout": 10, "check_same_thread": False}
        self._engine = sa.create_engine(url, future=True, connect_args=connect_args,
                                        pool_pre_ping=True)
        if url.startswith("sqlite"):
            @sa.event.listens_for(self._engine, "connect")
            def _pragmas(dbapi_connection: Any, _: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA busy_timeout = 10000")
                cursor.close()
        metadata = sa.MetaData()
        self._events = sa.Table(
            "helpdesk_tracker_events", metadata,
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                      autoincrement=True),
            sa.Column("sender_id", sa.String(255), nullable=False, index=True),
            sa.Column("type_name", sa.String(255), nullable=False),
            sa.Column("timestamp", sa.Float),
            sa.Column("data", sa.Text, nullable=False))
        self._conversations = sa.Table(
            "helpdesk_tracker_conversations", metadata,
            sa.Column("sender_id", sa.String(255), primary_key=True),
            sa.Column("session_start_id", sa.BigInteger, nullable=False, default=0),
            sa.Column("session_length", sa.Integer, nullable=False, default=0),
            sa.Column("last_event_at", sa.Float, nullable=False),
            sa.Column("contacts_masked_to", sa.BigInteger, nullable=False, default=0))
        metadata.create_all(self._engine)

    async def _run(self, fn: Callable[[Any], Any]) -> Any:
        def work() -> Any:
            with self._engine.begin() as connection:
                return fn(connection)
        return await asyncio.to_thread(work)

    async def append(self, sender_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        sa, now = self._sa, self._clock()

        def append(c: Any) -> None:
            row = c.execute(sa.select(self._conversations).where(
                self._conversations.c.sender_id == sender_id).with_for_update()).first()
            start, length = (row.session_start_id, row.session_length) if row else (0, 0)
            for event in events:
                inserted = c.execute(self._events.insert().values(
                    sender_id=sender_id, type_name=str(event.get("event")),
                    timestamp=event.get("timestamp"), data=_dumps(event)))
                if _is_session_start(event):
                    start, length = inserted.inserted_primary_key[0], 0
                length += 1
            values = {"session_start_id": start, "session_length": length, "last_event_at": now}
            if row:
                c.execute(self._conversations.update().where(
                    self._conversations.c.sender_id == sender_id).values(**values))
            else:
                c.execute(self._conversations.insert().values(sender_id=sender_id,
                                                              contacts_masked_to=0, **values))

        await self._run(append)

    async def session_events(self, sender_id: str) -> list[Event]:
        sa = self._sa

        def read(c: Any) -> list[Event]:
            row = c.execute(sa.select(self._conversations.c.session_start_id).where(
                self._conversations.c.sender_id == sender_id)).first()
            if row is None:
                return []
            rows = c.execute(sa.select(self._events.c.data).where(
                self._events.c.sender_id == sender_id,
                self._events.c.id >= row.session_start_id).order_by(self._events.c.id)).all()
            return [json.loads(r.data) for r in rows]

        return await self._run(read)

    async def all_events(self, sender_id: str) -> list[Event]:
        sa = self._sa
        rows = await self._run(lambda c: c.execute(sa.select(self._events.c.data).where(
            self._events.c.sender_id == sender_id).order_by(self._events.c.id)).all())
        return [json.loads(r.data) for r in rows]

    async def session_length(self, sender_id: str) -> int:
        sa = self._sa
        row = await self._run(lambda c: c.execute(sa.select(
            self._conversations.c.session_length).where(
            self._conversations.c.sender_id == sender_id)).first())
        return int(row.session_length) if row else 0

    async def delete(self, sender_id: str) -> int:
        def delete(c: Any) -> int:
            deleted = c.execute(self._events.delete().where(
                self._events.c.sender_id == sender_id)).rowcount
            c.execute(self._conversations.delete().where(
                self._conversations.c.sender_id == sender_id))
            return int(deleted or 0)

        return await self._run(delete)

    async def senders(self) -> list[str]:
        sa = self._sa
        rows = await self._run(lambda c: c.execute(sa.select(
            self._conversations.c.sender_id).order_by(self._conversations.c.sender_id)).all())
        return [r.sender_id for r in rows]

    async def mask_contacts(self, sender_id: str, mask: Masker, *,
                            up_to_id: int | None = None) -> int:
        """Rewrite the conversation's events before `up_to_id` (default: its current session's
        start) with contacts masked; returns how many were rewritten."""
        return await self._run(lambda c: self._mask(c, sender_id, mask, up_to_id))

    def _mask(self, c: Any, sender_id: str, mask: Masker, up_to_id: int | None) -> int:
        sa = self._sa
        row = c.execute(sa.select(self._conversations).where(
            self._conversations.c.sender_id == sender_id)).first()
        if row is None:
            return 0
        limit = row.session_start_id if up_to_id is None else up_to_id
        if limit <= row.contacts_masked_to:
            return 0
        rows = c.execute(sa.select(self._events.c.id, self._events.c.data).where(
            self._events.c.sender_id == sender_id, self._events.c.id > row.contacts_masked_to,
            self._events.c.id < limit)).all()
        changed = 0
        for event_row in rows:
            event = json.loads(event_row.data)
            masked = mask(event)
            if masked != event:
                c.execute(self._events.update().where(self._events.c.id == event_row.id).values(
                    data=_dumps(masked)))
                changed += 1
        c.execute(self._conversations.update().where(
            self._conversations.c.sender_id == sender_id).values(contacts_masked_to=limit - 1))
        return changed

    async def sweep(self, mask: Masker, *, now: float | None = None) -> tuple[int, int]:
        sa = self._sa
        now = self._clock() if now is None else now
        idle = now - self._retention.contacts_s
        expired = now - self._retention.retention_s

        def sweep(c: Any) -> tuple[int, int]:
            gone = [r.sender_id for r in c.execute(sa.select(
                self._conversations.c.sender_id).where(
                self._conversations.c.last_event_at < expired)).all()]
            for sender_id in gone:
                c.execute(self._events.delete().where(self._events.c.sender_id == sender_id))
                c.execute(self._conversations.delete().where(
                    self._conversations.c.sender_id == sender_id))
            quiet = c.execute(sa.select(self._conversations.c.sender_id).where(
                self._conversations.c.last_event_at < idle)).all()
            masked = 0
            for r in quiet:
                top = c.execute(sa.select(sa.func.max(self._events.c.id)).where(
                    self._events.c.sender_id == r.sender_id)).scalar() or 0
                masked += self._mask(c, r.sender_id, mask, top + 1)
            return masked, len(gone)

        return await self._run(sweep)

    async def adopt_rasa_events(self, redact: Masker) -> int:
        """Move conversations from Rasa's own SQL tracker table ("events", what this project
        used before) into this storage, redacted on the way, and drop that table: it kept the
        customers' raw words. Returns how many events moved."""
        sa = self._sa
        if "events" not in sa.inspect(self._engine).get_table_names():
            return 0
        legacy = sa.Table("events", sa.MetaData(), autoload_with=self._engine)
        if not {"sender_id", "type_name", "data"} <= set(legacy.c.keys()):
            return 0  # not Rasa's table: leave it alone

        def rows(c: Any) -> list[Any]:
            return c.execute(sa.select(legacy.c.sender_id, legacy.c.data).order_by(
                legacy.c.id)).all()

        moved = 0
        by_sender: dict[str, list[Event]] = {}
        for row in await self._run(rows):
            by_sender.setdefault(row.sender_id, []).append(redact(json.loads(row.data)))
        for sender_id, events in by_sender.items():
            await self.append(sender_id, events)
            moved += len(events)
        await self._run(lambda c: legacy.drop(c))
        log.info("moved %d event(s) of %d conversation(s) from Rasa's events table (redacted) "
                 "and dropped it", moved, len(by_sender))
        return moved

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.dispose)


# --- Redis ---------------------------------------------------------------------------------------
class RedisTrackerStorage:
    def __init__(self, *, host: str, port: int = 6379, db: int = 0, password: str | None = None,
                 key_prefix: str = "helpdesk", use_ssl: bool = False,
                 retention: TrackerRetention | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        from redis.asyncio import Redis

        self._r = Redis(host=host, port=port, db=db, password=password or None, ssl=use_ssl)
        self._p = f"{key_prefix}:tracker:"
        self._retention = retention or TrackerRetention()
        self._clock = clock

    def _events(self, sender_id: str) -> str:
        return self._p + "events:" + sender_id

    def _meta(self, sender_id: str) -> str:
        return self._p + "meta:" + sender_id

    _APPEND = """
local length = redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
local start = tonumber(redis.call('HGET', KEYS[2], 'session_start') or '0')
local starts = cjson.decode(ARGV[3])
if #starts > 0 then start = length - (#ARGV - 3) + starts[#starts] end
redis.call('HSET', KEYS[2], 'session_start', start, 'last_event_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], KEYS[4])
return length
"""

    async def append(self, sender_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        starts = [i for i, e in enumerate(events) if _is_session_start(e)]
        await self._r.eval(self._APPEND, 4, self._events(sender_id), self._meta(sender_id),
                           self._p + "senders", sender_id, repr(self._clock()),
                           self._retention.retention_s, json.dumps(starts),
                           *(_dumps(e) for e in events))

    async def _start(self, sender_id: str) -> int:
        value = await self._r.hget(self._meta(sender_id), "session_start")
        return int(value) if value is not None else 0

    async def session_events(self, sender_id: str) -> list[Event]:
        start = await self._start(sender_id)
        return [json.loads(e) for e in await self._r.lrange(self._events(sender_id), start, -1)]

    async def all_events(self, sender_id: str) -> list[Event]:
        return [json.loads(e) for e in await self._r.lrange(self._events(sender_id), 0, -1)]

    async def session_length(self, sender_id: str) -> int:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.llen(self._events(sender_id))
            pipe.hget(self._meta(sender_id), "session_start")
            length, start = await pipe.execute()
        return int(length) - int(start or 0)

    async def delete(self, sender_id: str) -> int:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.llen(self._events(sender_id))
            pipe.delete(self._events(sender_id), self._meta(sender_id))
            pipe.srem(self._p + "senders", sender_id)
            length, _, _ = await pipe.execute()
        return int(length)

    async def senders(self) -> list[str]:
        found = sorted(s.decode() for s in await self._r.smembers(self._p + "senders"))
        alive = []
        for sender_id in found:  # the set outlives expired conversations: tidy it on the way
            if await self._r.exists(self._meta(sender_id)):
                alive.append(sender_id)
            else:
                await self._r.srem(self._p + "senders", sender_id)
        return alive

    async def mask_contacts(self, sender_id: str, mask: Masker, *,
                            up_to_index: int | None = None) -> int:
        meta = self._meta(sender_id)
        masked_to = int(await self._r.hget(meta, "contacts_masked_to") or 0)
        limit = await self._start(sender_id) if up_to_index is None else up_to_index
        if limit <= masked_to:
            return 0
        raw = await self._r.lrange(self._events(sender_id), masked_to, limit - 1)
        changed = 0
        for offset, item in enumerate(raw):
            event = json.loads(item)
            masked = mask(event)
            if masked != event:
                await self._r.lset(self._events(sender_id), masked_to + offset, _dumps(masked))
                changed += 1
        await self._r.hset(meta, "contacts_masked_to", limit)
        return changed

    async def sweep(self, mask: Masker, *, now: float | None = None) -> tuple[int, int]:
        """Deletion is Redis's own expiry; this masks contacts of idle conversations."""
        now = self._clock() if now is None else now
        masked = 0
        for sender_id in await self.senders():
            last = await self._r.hget(self._meta(sender_id), "last_event_at")
            if last is not None and float(last) < now - self._retention.contacts_s:
                length = await self._r.llen(self._events(sender_id))
                masked += await self.mask_contacts(sender_id, mask, up_to_index=length)
        return masked, 0

    async def close(self) -> None:
        await self._r.aclose()


@dataclass(frozen=True, slots=True)
class TrackerStorageConfig:
    """The tracker store configuration both the Rasa server (endpoints.yml) and the gateway read
    from the environment: RASA_TRACKER_STORE (sql|redis), RASA_TRACKER_URL (an SQLAlchemy URL, or
    the Redis host), RASA_REDIS_PORT / _DB / _PASSWORD / _KEY_PREFIX."""

    kind: str
    url: str
    port: int = 6379
    db: int = 0
    password: str | None = None
    key_prefix: str = "helpdesk"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TrackerStorageConfig | None:
        kind = (env.get("RASA_TRACKER_STORE") or "").strip().lower()
        url = (env.get("RASA_TRACKER_URL") or "").strip()
        if kind not in ("sql", "redis") or not url:
            return None
        return cls(kind=kind, url=url, port=int(env.get("RASA_REDIS_PORT") or 6379),
                   db=int(env.get("RASA_REDIS_DB") or 0),
                   password=env.get("RASA_REDIS_PASSWORD") or None,
                   key_prefix=env.get("RASA_REDIS_KEY_PREFIX") or "helpdesk")

    def open(self, *, retention: TrackerRetention | None = None) -> SqlTrackerStorage | RedisTrackerStorage:
        if self.kind == "redis":
            return RedisTrackerStorage(host=self.url, port=self.port, db=self.db,
                                       password=self.password, key_prefix=self.key_prefix,
                                       retention=retention)
        return SqlTrackerStorage(self.url, retention=retention)
