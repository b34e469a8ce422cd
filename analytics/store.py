"""Where analytics events live: one schema on SQLite (the embedded default) and PostgreSQL
(production), created and upgraded by numbered migrations, written idempotently (a redelivered
event is the same row), expired after `retention_s`, and erased with the customer.

SQLAlchemy Core in a worker thread, like the tracker storage: the event loop never waits on the
database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from analytics.records import RECORD_FIELDS, Record
from bot.sql_engine import open_engine

DAY_S = 24 * 3600
DEFAULT_RETENTION_S = 395 * DAY_S  # a year of figures plus a month to compare with
_IMMEDIATE = "helpdesk_begin_immediate"

metadata = sa.MetaData()
schema_version = sa.Table(
    "analytics_schema", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.Float, nullable=False))


def _events_table(into: sa.MetaData) -> sa.Table:
    """analytics_events as migration 1 created it (a later migration alters it with its own
    statements, so this shape stays what version 1 was)."""
    return sa.Table(
        "analytics_events", into,
        sa.Column("event_key", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("conversation", sa.String(32), nullable=False),
        sa.Column("customer", sa.String(32), nullable=False, default=""),
        sa.Column("channel", sa.String(32), nullable=False, default=""),
        sa.Column("intent", sa.String(128), nullable=False, default=""),
        sa.Column("confidence", sa.Float),
        sa.Column("topic", sa.String(128), nullable=False, default=""),
        sa.Column("text", sa.Text, nullable=False, default=""),
        sa.Column("sentiment", sa.Float),
        sa.Column("case_id", sa.String(32), nullable=False, default=""),
        sa.Column("trigger", sa.String(64), nullable=False, default=""),
        sa.Column("rating", sa.Integer),
        sa.Column("action", sa.String(128), nullable=False, default=""),
        sa.Column("agent", sa.String(32), nullable=False, default=""),
        sa.Index("analytics_events_ts", "ts"),
        sa.Index("analytics_events_conversation", "conversation", "ts"),
        sa.Index("analytics_events_customer", "customer"))


events = _events_table(metadata)
reviews = sa.Table(
    "analytics_quality_reviews", metadata,
    sa.Column("conversation", sa.String(32), primary_key=True),
    sa.Column("started_at", sa.Float, primary_key=True),
    sa.Column("reviewer", sa.String(32), nullable=False),
    sa.Column("reviewed_at", sa.Float, nullable=False))
alerts = sa.Table(
    "analytics_alerts", metadata,
    sa.Column("signal", sa.String(160), primary_key=True),
    sa.Column("raised_at", sa.Float, primary_key=True),
    sa.Column("body", sa.Text, nullable=False))


erasures = sa.Table(
    "analytics_erasures", metadata,
    sa.Column("pseudonym", sa.String(32), primary_key=True),
    sa.Column("erased_at", sa.Float, nullable=False))


def _v1(c: Any) -> None:
    _events_table(sa.MetaData()).create(c)


def _v2(c: Any) -> None:
    reviews.create(c)
    alerts.create(c)


def _v3(c: Any) -> None:
    # Erased customers: their events still on their way (a queue, a spool) are not stored.
    erasures.create(c)


# Append only: a deployed database has run every migration up to its version, never one twice.
MIGRATIONS: tuple[Callable[[Any], None], ...] = (_v1, _v2, _v3)
# A conversation seen in a period is read this far back, so one that began before the period
# (a case open for days) is cut as it was live (analytics/episodes.py).
CONTEXT_S = 14 * DAY_S


class AnalyticsStore:
    def __init__(self, url: str, *, retention_s: int = DEFAULT_RETENTION_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._engine = open_engine(url, busy_timeout_s=15.0)  # Rasa and the gateway both write
        if url.startswith("sqlite"):
            @sa.event.listens_for(self._engine, "connect")
            def _real_transactions(dbapi_connection: Any, _: Any) -> None:
                # SQLAlchemy's recipe for real SQLite transactions: pysqlite's own would commit
                # before every CREATE, so two processes could interleave migration 1.
                dbapi_connection.isolation_level = None

            @sa.event.listens_for(self._engine, "begin")
            def _begin(connection: Any) -> None:
                immediate = connection.info.get(_IMMEDIATE)
                connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        self.retention_s = retention_s
        self._clock = clock
        self._migrated = False

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def _migrate(self, c: Any) -> int:
        if c.dialect.name == "postgresql":
            # Two processes starting at once must not both run migration 1.
            c.execute(sa.text("SELECT pg_advisory_xact_lock(7340011)"))
        schema_version.create(c, checkfirst=True)
        current = c.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
        for version, migration in enumerate(MIGRATIONS, start=1):
            if version > current:
                migration(c)
                c.execute(schema_version.insert().values(version=version,
                                                         applied_at=self._clock()))
        return len(MIGRATIONS)

    def _transaction(self, fn: Callable[[Any], Any], *, write: bool) -> Any:
        with self._engine.connect() as c:
            # SQLite: a writing transaction takes the write lock with its first statement
            # (BEGIN IMMEDIATE), so two processes queue on the busy timeout; a deferred one
            # that read first and then wrote would fail at once with "database is locked".
            c.info[_IMMEDIATE] = write
            try:
                with c.begin():
                    return fn(c)
            finally:
                c.info.pop(_IMMEDIATE, None)

    async def _run(self, fn: Callable[[Any], Any], *, write: bool = True) -> Any:
        def work() -> Any:
            if not self._migrated:
                self._transaction(self._migrate, write=True)
                self._migrated = True
            return self._transaction(fn, write=write)
        return await asyncio.to_thread(work)

    async def migrate(self) -> int:
        """Bring the schema up to date; returns its version."""
        return int(await self._run(lambda c: c.execute(
            sa.select(sa.func.max(schema_version.c.version))).scalar(), write=False))

    async def add(self, records: Iterable[Record]) -> int:
        """Store records; ones already stored (same event key) are skipped. Returns how many
        were new."""
        rows = [r.row() for r in records]
        if not rows:
            return 0

        def insert(c: Any) -> int:
            names = {r["conversation"] for r in rows} | {r["customer"] for r in rows if r["customer"]}
            erased = dict(c.execute(sa.select(erasures.c.pseudonym, erasures.c.erased_at)
                                    .where(erasures.c.pseudonym.in_(list(names)))).all())
            statement = self._insert_ignoring_duplicates(c)
            added = 0
            for row in rows:
                if max(erased.get(row["conversation"], -1.0),
                       erased.get(row["customer"], -1.0)) >= row["ts"]:
                    continue  # said before the customer's erasure, arriving after it
                added += int(c.execute(statement, row).rowcount or 0)
            return added
        return int(await self._run(insert))

    @staticmethod
    def _insert_ignoring_duplicates(c: Any) -> Any:
        # Two consumers racing on one key: the second insert is a no-op, not an error.
        if c.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(events).on_conflict_do_nothing(index_elements=["event_key"])

    async def records(self, *, since: float | None = None, until: float | None = None,
                      conversation: str | None = None) -> list[Record]:
        """Stored records in time order (ties in a stable order)."""
        def select(c: Any) -> list[Record]:
            query = sa.select(events)
            if since is not None:
                query = query.where(events.c.ts >= since)
            if until is not None:
                query = query.where(events.c.ts < until)
            if conversation is not None:
                query = query.where(events.c.conversation == conversation)
            return self._ordered(c, query)
        return list(await self._run(select, write=False))

    async def records_around(self, since: float, *, context_s: float = CONTEXT_S) -> list[Record]:
        """Every record from `since` on, and the earlier records (up to `context_s` back) of the
        conversations active since then: what cutting them into episodes needs."""
        def select(c: Any) -> list[Record]:
            active = sa.select(events.c.conversation).where(events.c.ts >= since)
            query = sa.select(events).where(sa.or_(
                events.c.ts >= since,
                sa.and_(events.c.ts >= since - context_s, events.c.conversation.in_(active))))
            return self._ordered(c, query)
        return list(await self._run(select, write=False))

    @staticmethod
    def _ordered(c: Any, query: Any) -> list[Record]:
        rows = c.execute(query.order_by(events.c.ts, events.c.source.desc(),
                                        events.c.event_key)).mappings()
        return [Record.from_row(row) for row in rows]

    async def count(self) -> int:
        return int(await self._run(lambda c: c.execute(
            sa.select(sa.func.count()).select_from(events)).scalar(), write=False))

    async def erase(self, *, conversations: Sequence[str] = (), customers: Sequence[str] = (),
                    at: float | None = None) -> int:
        """Delete every row of these (pseudonymised) conversations and customers: a customer's
        conversations go entirely (Rasa's bot events name only the conversation), so do the
        alerts quoting them; and remember the erasure, so their events still on the way (in a
        queue or a spool) are not stored when they arrive. `at`: when the erasure happened (the
        consumer applies it later); what the customer said after it is theirs again."""
        now = self._clock() if at is None else at

        def delete(c: Any) -> int:
            theirs = set(conversations) | set(c.execute(
                sa.select(events.c.conversation).distinct()
                .where(events.c.customer.in_(list(customers)))).scalars())
            condition = sa.or_(events.c.conversation.in_(list(theirs)),
                               events.c.customer.in_(list(customers)))
            deleted = c.execute(events.delete().where(condition)).rowcount
            c.execute(reviews.delete().where(reviews.c.conversation.in_(list(theirs))))
            for row in c.execute(sa.select(alerts)).all():
                quoted = set(json.loads(row.body).get("conversations") or [])
                if quoted & theirs:
                    c.execute(alerts.delete().where(sa.and_(alerts.c.signal == row.signal,
                                                            alerts.c.raised_at == row.raised_at)))
            for name in theirs | set(customers):
                c.execute(erasures.delete().where(erasures.c.pseudonym == name))
                c.execute(erasures.insert().values(pseudonym=name, erased_at=now))
            return int(deleted or 0)
        return int(await self._run(delete))

    async def expire(self) -> int:
        cutoff = self._clock() - self.retention_s

        def delete(c: Any) -> int:
            deleted = c.execute(events.delete().where(events.c.ts < cutoff)).rowcount
            c.execute(reviews.delete().where(reviews.c.started_at < cutoff))
            c.execute(alerts.delete().where(alerts.c.raised_at < cutoff))
            c.execute(erasures.delete().where(erasures.c.erased_at < cutoff))
            return int(deleted or 0)
        return int(await self._run(delete))

    # --- what leads do with the figures -------------------------------------------------------
    async def mark_reviewed(self, *, conversation: str, started_at: float, reviewer: str) -> None:
        def upsert(c: Any) -> None:
            c.execute(reviews.delete().where(sa.and_(reviews.c.conversation == conversation,
                                                     reviews.c.started_at == started_at)))
            c.execute(reviews.insert().values(conversation=conversation, started_at=started_at,
                                              reviewer=reviewer, reviewed_at=self._clock()))
        await self._run(upsert)

    async def reviewed(self) -> set[tuple[str, float]]:
        return set(await self._run(lambda c: [
            (r.conversation, r.started_at) for r in c.execute(sa.select(reviews))], write=False))

    async def record_alert(self, *, signal: str, body: str) -> None:
        await self._run(lambda c: c.execute(alerts.insert().values(
            signal=signal, raised_at=self._clock(), body=body)))

    async def last_alerts(self) -> dict[str, float]:
        """When each signal last alerted (the spike detector's cooldown)."""
        return dict(await self._run(lambda c: [
            (r.signal, r.last) for r in c.execute(
                sa.select(alerts.c.signal, sa.func.max(alerts.c.raised_at).label("last"))
                .group_by(alerts.c.signal))], write=False))

    async def alerts(self, *, limit: int = 20) -> list[dict[str, Any]]:
        def select(c: Any) -> list[dict[str, Any]]:
            rows = c.execute(sa.select(alerts).order_by(alerts.c.raised_at.desc()).limit(limit))
            shown = []
            for r in rows:
                body = json.loads(r.body)
                body.pop("conversations", None)  # kept for the erasure only
                shown.append({"signal": r.signal, "raised_at": r.raised_at, **body})
            return shown
        return list(await self._run(select, write=False))

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.dispose)


assert set(RECORD_FIELDS) == {c.name for c in events.columns}, "records and the table disagree"
