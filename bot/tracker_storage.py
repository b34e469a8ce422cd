"""Where Rasa's conversation events are kept: one storage layer with two backends, SQL
(SQLite by default, PostgreSQL in production; SQLAlchemy Core) and Redis. Rasa-free, so the
gateway uses the same code to erase a conversation as the Rasa server uses to store it
(bot/rasa_tracker_store.py).

Designed for what comes next, too:
- append-only: a save writes only the new events, never rewrites the conversation;
- a conversation row (SQL) / meta hash (Redis) keeps where the current session starts, so a read
  fetches the current session only (bounded retrieval) without scanning;
- events arrive here already redacted (the tracker store does it); `mask_contacts` rewrites the
  events of sessions that are over, and `sweep` masks idle conversations and deletes expired ones;
- a checkpoint per conversation (the dialogue state at one position of the current session, as a
  few events) lets a read return that state plus the events after it (`session_window`), so
  what a turn reads stays bounded however long the conversation gets. Masking contacts drops the
  checkpoint (it may hold a contact in a slot); the next save writes a fresh one.

SQL layout: helpdesk_tracker_events (id, sender_id, type_name, timestamp, data JSON),
helpdesk_tracker_conversations (sender_id, session_start_id, session_length, last_event_at,
contacts_masked_to) and helpdesk_tracker_checkpoints (sender_id, session_start_id, at_index,
prefix JSON). Redis layout, under <prefix>:tracker: events:<sender> (a list of JSON events)
and meta:<sender> (a hash, checkpoint included); both expire `retention_s` after the last event, and there is no other
key, so an expired conversation leaves nothing behind (not even its id)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.sql_engine import open_engine

log = logging.getLogger(__name__)

Event = dict[str, Any]
Masker = Callable[[Event], Event]
DAY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class TrackerRetention:
    retention_s: int = 30 * DAY_S  # a conversation idle this long is deleted
    contacts_s: int = DAY_S        # e-mails and phone numbers are masked once idle this long


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """The current session from position `start` on: `prefix` (events that rebuild the dialogue
    state the session had at `start`; [] when start is 0) and the session's events from there."""

    start: int
    prefix: list[Event]
    events: list[Event]


class TrackerStorage(Protocol):
    async def append(self, sender_id: str, events: Sequence[Event]) -> None:
        """Store new events (already redacted) after the conversation's existing ones."""
        ...

    async def session_events(self, sender_id: str) -> list[Event]:
        """The events of the conversation's latest session (all of them before any session
        start), oldest first; [] for an unknown conversation."""
        ...

    async def all_events(self, sender_id: str) -> list[Event]: ...

    async def session_window(self, sender_id: str) -> SessionWindow:
        """The current session from its checkpoint on (the whole session without one)."""
        ...

    async def set_checkpoint(self, sender_id: str, at: int, prefix: Sequence[Event]) -> None:
        """Record that `prefix` rebuilds the current session's state at position `at`."""
        ...

    async def session_length(self, sender_id: str) -> int:
        """How many events the latest session has (what a save skips)."""
        ...

    async def delete(self, sender_id: str) -> int:
        """Delete the conversation; returns how many events were deleted."""
        ...

    async def senders(self) -> list[str]: ...

    async def mask_contacts(self, sender_id: str, mask: Masker) -> int:
        """Mask contacts in the sessions that are over; returns how many events changed."""
        ...

    async def sweep(self, mask: Masker, *, now: float | None = None) -> tuple[int, int]:
        """Mask contacts of idle conversations and delete expired ones; (masked, deleted)."""
        ...

    async def close(self) -> None: ...


def _is_session_start(event: Mapping[str, Any]) -> bool:
    return event.get("event") == "session_started"


def _dumps(event: Event) -> str:
    # ASCII escapes: a lone surrogate (valid in JSON, so a web socket can deliver one) cannot
    # be encoded as UTF-8 and would make the save fail.
    return json.dumps(event, separators=(",", ":"))


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
        self._engine = open_engine(url)
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
        self._checkpoints = sa.Table(
            "helpdesk_tracker_checkpoints", metadata,
            sa.Column("sender_id", sa.String(255), primary_key=True),
            sa.Column("session_start_id", sa.BigInteger, nullable=False),
            sa.Column("at_index", sa.Integer, nullable=False),
            sa.Column("prefix", sa.Text, nullable=False))
        # A bounded read takes a conversation's latest events newest first: (sender_id, id)
        # answers that from the index alone (SQLite's rowid does it already; PostgreSQL needs it).
        window_index = sa.Index("helpdesk_tracker_events_sender_id_id", self._events.c.sender_id,
                                self._events.c.id)
        metadata.create_all(self._engine)
        window_index.create(self._engine, checkfirst=True)

    async def _run(self, fn: Callable[[Any], Any]) -> Any:
        def work() -> Any:
            with self._engine.begin() as connection:
                return fn(connection)
        return await asyncio.to_thread(work)

    def _locked_conversation(self, c: Any, sender_id: str, now: float) -> Any:
        """The conversation's row, created if new and locked for this transaction before it is
        read: two appends to one conversation then queue instead of both inserting the row
        (an integrity error) or both reading the same session length (a lost update)."""
        sa, table = self._sa, self._conversations
        values = {"sender_id": sender_id, "session_start_id": 0, "session_length": 0,
                  "last_event_at": now, "contacts_masked_to": 0}
        dialect = c.dialect.name
        if dialect in ("sqlite", "postgresql"):
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            # A write first: SQLite takes its write lock here (a read would not), PostgreSQL
            # waits for a concurrent insert of the same row to commit.
            c.execute(insert(table).values(**values).on_conflict_do_nothing(
                index_elements=["sender_id"]))
            return c.execute(sa.select(table).where(table.c.sender_id == sender_id)
                             .with_for_update()).first()
        row = c.execute(sa.select(table).where(table.c.sender_id == sender_id)
                        .with_for_update()).first()
        if row is None:
            c.execute(table.insert().values(**values))
            row = c.execute(sa.select(table).where(table.c.sender_id == sender_id)).first()
        return row

    def _append(self, c: Any, sender_id: str, events: Sequence[Event], *,
                last_event_at: float) -> None:
        row = self._locked_conversation(c, sender_id, last_event_at)
        start, length = row.session_start_id, row.session_length
        pending: list[dict[str, Any]] = []  # inserted together: one round trip, not one each
        for event in events:
            values = {"sender_id": sender_id, "type_name": str(event.get("event")),
                      "timestamp": event.get("timestamp"), "data": _dumps(event)}
            if _is_session_start(event):  # its id is where the session starts: on its own
                if pending:
                    c.execute(self._events.insert(), pending)
                    pending = []
                inserted = c.execute(self._events.insert().values(**values))
                start, length = inserted.inserted_primary_key[0], 0
            else:
                pending.append(values)
            length += 1
        if pending:
            c.execute(self._events.insert(), pending)
        c.execute(self._conversations.update().where(
            self._conversations.c.sender_id == sender_id).values(
            session_start_id=start, session_length=length, last_event_at=last_event_at))

    async def append(self, sender_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        now = self._clock()
        await self._run(lambda c: self._append(c, sender_id, events, last_event_at=now))

    async def session_events(self, sender_id: str) -> list[Event]:
        sa, events, conversations = self._sa, self._events, self._conversations
        start = sa.select(conversations.c.session_start_id).where(
            conversations.c.sender_id == sender_id).scalar_subquery()
        rows = await self._run(lambda c: c.execute(sa.select(events.c.data).where(
            events.c.sender_id == sender_id,
            events.c.id >= sa.func.coalesce(start, 0)).order_by(events.c.id)).all())
        return [json.loads(r.data) for r in rows]

    async def all_events(self, sender_id: str) -> list[Event]:
        sa = self._sa
        rows = await self._run(lambda c: c.execute(sa.select(self._events.c.data).where(
            self._events.c.sender_id == sender_id).order_by(self._events.c.id)).all())
        return [json.loads(r.data) for r in rows]

    def _window(self, c: Any, sender_id: str) -> SessionWindow:
        sa, events = self._sa, self._events
        conversation = c.execute(sa.select(self._conversations).where(
            self._conversations.c.sender_id == sender_id)).first()
        if conversation is None:
            return SessionWindow(0, [], [])
        checkpoint = c.execute(sa.select(self._checkpoints).where(
            self._checkpoints.c.sender_id == sender_id)).first()
        in_session = events.c.id >= conversation.session_start_id
        if (checkpoint is not None and checkpoint.session_start_id == conversation.session_start_id
                and 0 < checkpoint.at_index < conversation.session_length):
            rows = c.execute(sa.select(events.c.data).where(events.c.sender_id == sender_id,
                                                            in_session)
                             .order_by(events.c.id.desc())
                             .limit(conversation.session_length - checkpoint.at_index)).all()
            return SessionWindow(checkpoint.at_index, json.loads(checkpoint.prefix),
                                 [json.loads(r.data) for r in reversed(rows)])
        rows = c.execute(sa.select(events.c.data).where(events.c.sender_id == sender_id,
                                                        in_session).order_by(events.c.id)).all()
        return SessionWindow(0, [], [json.loads(r.data) for r in rows])

    async def session_window(self, sender_id: str) -> SessionWindow:
        return await self._run(lambda c: self._window(c, sender_id))

    def _set_checkpoint(self, c: Any, sender_id: str, at: int, prefix: Sequence[Event]) -> None:
        sa, table = self._sa, self._checkpoints
        conversation = c.execute(sa.select(self._conversations.c.session_start_id).where(
            self._conversations.c.sender_id == sender_id)).first()
        if conversation is None:  # erased meanwhile: nothing to bring back
            return
        c.execute(table.delete().where(table.c.sender_id == sender_id))
        c.execute(table.insert().values(sender_id=sender_id,
                                        session_start_id=conversation.session_start_id,
                                        at_index=at, prefix=json.dumps(list(prefix))))

    async def set_checkpoint(self, sender_id: str, at: int, prefix: Sequence[Event]) -> None:
        await self._run(lambda c: self._set_checkpoint(c, sender_id, at, prefix))

    async def session_length(self, sender_id: str) -> int:
        sa = self._sa
        row = await self._run(lambda c: c.execute(sa.select(
            self._conversations.c.session_length).where(
            self._conversations.c.sender_id == sender_id)).first())
        return int(row.session_length) if row else 0

    def _delete(self, c: Any, sender_id: str) -> int:
        deleted = c.execute(self._events.delete().where(
            self._events.c.sender_id == sender_id)).rowcount
        c.execute(self._checkpoints.delete().where(self._checkpoints.c.sender_id == sender_id))
        c.execute(self._conversations.delete().where(
            self._conversations.c.sender_id == sender_id))
        return int(deleted or 0)

    async def delete(self, sender_id: str) -> int:
        return await self._run(lambda c: self._delete(c, sender_id))

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
        if limit - 1 <= row.contacts_masked_to:  # contacts_masked_to: the last id done
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
        if changed:
            c.execute(self._checkpoints.delete().where(
                self._checkpoints.c.sender_id == sender_id))
        return changed

    async def sweep(self, mask: Masker, *, now: float | None = None) -> tuple[int, int]:
        sa, events, conversations = self._sa, self._events, self._conversations
        now = self._clock() if now is None else now
        idle = now - self._retention.contacts_s
        expired = now - self._retention.retention_s

        def sweep(c: Any) -> tuple[int, int]:
            gone = [r.sender_id for r in c.execute(sa.select(conversations.c.sender_id).where(
                conversations.c.last_event_at < expired)).all()]
            for sender_id in gone:
                self._delete(c, sender_id)
            # Only idle conversations with events not masked yet: a sweep every few minutes
            # must not revisit every conversation of the last month.
            latest = sa.select(sa.func.max(events.c.id)).where(
                events.c.sender_id == conversations.c.sender_id).scalar_subquery()
            quiet = c.execute(sa.select(conversations.c.sender_id, latest.label("top")).where(
                conversations.c.last_event_at < idle,
                conversations.c.contacts_masked_to < latest)).all()
            masked = sum(self._mask(c, r.sender_id, mask, r.top + 1) for r in quiet)
            return masked, len(gone)

        return await self._run(sweep)

    async def adopt_rasa_events(self, redact: Callable[[list[Event]], list[Event]],
                                mask: Masker) -> int:
        """Move conversations from Rasa's own SQL tracker table ("events", what this project
        used before) into this storage and drop that table: it kept the customers' raw words.
        `redact` gets a whole conversation (a secret answer is known by what was asked before
        it); sessions that are over get `mask` too, and a conversation's retention counts from
        its last event, as if it had always been here. One transaction: a crash half-way
        leaves the legacy table as it was, never events adopted twice. Returns how many moved."""
        sa = self._sa

        def adopt(c: Any) -> tuple[int, int] | None:
            if "events" not in sa.inspect(c).get_table_names():
                return None
            legacy = sa.Table("events", sa.MetaData(), autoload_with=c)
            if not {"id", "sender_id", "type_name", "data"} <= set(legacy.c.keys()):
                return None  # not Rasa's table: leave it alone
            senders = [r.sender_id for r in c.execute(
                sa.select(legacy.c.sender_id).distinct()).all()]
            moved = 0
            for sender_id in senders:  # one conversation in memory at a time
                events = redact([json.loads(r.data) for r in c.execute(
                    sa.select(legacy.c.data).where(legacy.c.sender_id == sender_id)
                    .order_by(legacy.c.id)).all() if r.data])
                if not events:
                    continue
                stamps = [e["timestamp"] for e in events
                          if isinstance(e.get("timestamp"), (int, float))]
                self._append(c, sender_id, events,
                             last_event_at=max(stamps) if stamps else self._clock())
                self._mask(c, sender_id, mask, None)
                moved += len(events)
            legacy.drop(c)
            return moved, len(senders)

        result = await self._run(adopt)
        if result is None:
            return 0
        moved, conversations = result
        log.info("moved %d event(s) of %d conversation(s) from Rasa's events table (redacted) "
                 "and dropped it", moved, conversations)
        return moved

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.dispose)


# --- Redis ---------------------------------------------------------------------------------------
def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


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

    # ARGV: last_event_at, ttl, session starts (JSON indexes into the batch), events...
    # RPUSH in chunks: Lua's unpack() fails beyond a few thousand values (a long adopted
    # conversation, a tracker replayed at once).
    _APPEND = """
local length = 0
for i = 4, #ARGV, 1000 do
  length = redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local start = tonumber(redis.call('HGET', KEYS[2], 'session_start') or '0')
local starts = cjson.decode(ARGV[3])
if #starts > 0 then start = length - (#ARGV - 3) + starts[#starts] end
redis.call('HSET', KEYS[2], 'session_start', start, 'last_event_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return length
"""
    # One round trip, and the session start and the events read from the same moment.
    _SESSION = """
local start = tonumber(redis.call('HGET', KEYS[2], 'session_start') or '0')
return redis.call('LRANGE', KEYS[1], start, -1)
"""
    # Returns {position of the first event in the session, checkpoint prefix or "", events}: the
    # checkpoint counts only if it was taken in the current session.
    _WINDOW = """
local start = tonumber(redis.call('HGET', KEYS[2], 'session_start') or '0')
local cp = redis.call('HMGET', KEYS[2], 'checkpoint_session', 'checkpoint_at', 'checkpoint')
local from, prefix = start, ''
if cp[1] and cp[2] and cp[3] and tonumber(cp[1]) == start and tonumber(cp[2]) > start
   and tonumber(cp[2]) < redis.call('LLEN', KEYS[1]) then
  from, prefix = tonumber(cp[2]), cp[3]
end
return {from - start, prefix, redis.call('LRANGE', KEYS[1], from, -1)}
"""
    # ARGV: position in the current session, prefix JSON. Nothing is written to a conversation
    # deleted (or expired) meanwhile.
    _CHECKPOINT = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local start = tonumber(redis.call('HGET', KEYS[2], 'session_start') or '0')
redis.call('HSET', KEYS[2], 'checkpoint_session', start,
           'checkpoint_at', start + tonumber(ARGV[1]), 'checkpoint', ARGV[2])
return 1
"""
    # ARGV: masked_to, then (index, event as read, masked event) triples. An event is
    # rewritten only if it is still the one that was read, and nothing is written to a
    # conversation deleted (or expired) meanwhile: that would bring back erased events or
    # leave a key without a TTL.
    _MASK = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local all = 1
for i = 2, #ARGV, 3 do
  if redis.call('LINDEX', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('LSET', KEYS[1], ARGV[i], ARGV[i + 2])
  else
    all = 0
  end
end
if all == 1 then redis.call('HSET', KEYS[2], 'contacts_masked_to', ARGV[1]) end
if #ARGV > 1 then redis.call('HDEL', KEYS[2], 'checkpoint_session', 'checkpoint_at', 'checkpoint') end
return all
"""

    async def append(self, sender_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        starts = [i for i, e in enumerate(events) if _is_session_start(e)]
        await self._r.eval(self._APPEND, 2, self._events(sender_id), self._meta(sender_id),
                           repr(self._clock()), self._retention.retention_s,
                           json.dumps(starts), *(_dumps(e) for e in events))

    async def session_events(self, sender_id: str) -> list[Event]:
        raw = await self._r.eval(self._SESSION, 2, self._events(sender_id),
                                 self._meta(sender_id))
        return [json.loads(e) for e in raw]

    async def all_events(self, sender_id: str) -> list[Event]:
        return [json.loads(e) for e in await self._r.lrange(self._events(sender_id), 0, -1)]

    async def session_window(self, sender_id: str) -> SessionWindow:
        start, prefix, raw = await self._r.eval(self._WINDOW, 2, self._events(sender_id),
                                                self._meta(sender_id))
        return SessionWindow(int(start), json.loads(prefix) if prefix else [],
                             [json.loads(e) for e in raw])

    async def set_checkpoint(self, sender_id: str, at: int, prefix: Sequence[Event]) -> None:
        await self._r.eval(self._CHECKPOINT, 2, self._events(sender_id), self._meta(sender_id),
                           at, json.dumps(list(prefix)))

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
            length, _ = await pipe.execute()
        return int(length)

    async def senders(self) -> list[str]:
        """Found by their meta keys (SCAN): a separate index of conversations would need a
        TTL per member, and without one it keeps the ids (phone numbers, for SMS) of expired
        conversations."""
        meta = self._p + "meta:"
        found = [key.decode()[len(meta):] async for key in self._r.scan_iter(
            match=_glob_escape(meta) + "*", count=1000)]
        return sorted(set(found))

    async def mask_contacts(self, sender_id: str, mask: Masker, *,
                            up_to_index: int | None = None) -> int:
        meta = self._meta(sender_id)
        start, masked_to = await self._r.hmget(meta, ["session_start", "contacts_masked_to"])
        masked_to = int(masked_to or 0)
        limit = int(start or 0) if up_to_index is None else up_to_index
        if limit <= masked_to:
            return 0
        raw = await self._r.lrange(self._events(sender_id), masked_to, limit - 1)
        updates: list[Any] = []
        for offset, item in enumerate(raw):
            event = json.loads(item)
            masked = mask(event)
            if masked != event:
                updates += [masked_to + offset, item, _dumps(masked)]
        done = await self._r.eval(self._MASK, 2, self._events(sender_id), meta,
                                  masked_to + len(raw), *updates)
        return len(updates) // 3 if done == 1 else 0

    async def sweep(self, mask: Masker, *, now: float | None = None) -> tuple[int, int]:
        """Deletion is Redis's own expiry; this masks contacts of idle conversations."""
        now = self._clock() if now is None else now
        # Earlier versions kept a set of conversation ids without a TTL: drop it.
        await self._r.delete(self._p + "senders")
        masked = 0
        for sender_id in await self.senders():
            last, length = await self._last_event_at_and_length(sender_id)
            if last is not None and last < now - self._retention.contacts_s:
                masked += await self.mask_contacts(sender_id, mask, up_to_index=length)
        return masked, 0

    async def _last_event_at_and_length(self, sender_id: str) -> tuple[float | None, int]:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hget(self._meta(sender_id), "last_event_at")
            pipe.llen(self._events(sender_id))
            last, length = await pipe.execute()
        return (float(last) if last is not None else None), int(length)

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

    def open(self, *, retention: TrackerRetention | None = None,
             clock: Callable[[], float] = time.time) -> SqlTrackerStorage | RedisTrackerStorage:
        if self.kind == "redis":
            return RedisTrackerStorage(host=self.url, port=self.port, db=self.db,
                                       password=self.password, key_prefix=self.key_prefix,
                                       retention=retention, clock=clock)
        return SqlTrackerStorage(self.url, retention=retention, clock=clock)
