"""Where analytics events live: one schema on SQLite (the embedded default) and PostgreSQL
(production), created and upgraded by numbered migrations, written idempotently (a redelivered
event is the same row), expired after `retention_s`, and erased with the customer.

SQLAlchemy Core in a worker thread, like the tracker storage: the event loop never waits on the
database."""

from __future__ import annotations

import asyncio
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


def _v1(c: Any) -> None:
    _events_table(sa.MetaData()).create(c)


def _v2(c: Any) -> None:
    reviews.create(c)
    alerts.create(c)


# Append only: a deployed database has run every migration up to its version, never one twice.
MIGRATIONS: tuple[Callable[[Any], None], ...] = (_v1, _v2)


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

    async def _run(self, fn: Callable[[Any], Any]) -> Any:
        def work() -> Any:
            if not self._migrated:
                with self._engine.connect() as c:
                    # SQLite: the write lock from the first statement on, so a second
                    # process waits and then finds the schema up to date.
                    c.info[_IMMEDIATE] = True
                    try:
                        with c.begin():
                            self._migrate(c)
                    finally:
                        c.info.pop(_IMMEDIATE, None)
                self._migrated = True
            with self._engine.begin() as c:
                return fn(c)
        return await asyncio.to_thread(work)

    async def migrate(self) -> int:
        """Bring the schema up to date; returns its version."""
        return int(await self._run(lambda c: c.execute(
            sa.select(sa.func.max(schema_version.c.version))).scalar()))

    async def add(self, records: Iterable[Record]) -> int:
        """Store records; ones already stored (same event key) are skipped. Returns how many
        were new."""
        rows = [r.row() for r in records]
        if not rows:
            return 0

        def insert(c: Any) -> int:
            keys = [r["event_key"] for r in rows]
            known = set(c.execute(sa.select(events.c.event_key)
                                  .where(events.c.event_key.in_(keys))).scalars())
            fresh = {r["event_key"]: r for r in rows if r["event_key"] not in known}
            if not fresh:
                return 0
            c.execute(self._insert_ignoring_duplicates(c), list(fresh.values()))
            return len(fresh)
        return int(await self._run(insert))

    @staticmethod
    def _insert_ignoring_duplicates(c: Any) -> Any:
        # Two consumers racing on one key: the second insert is a no-op, not an error.
        if c.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(events).on_conflict_do_nothing(index_elements=["event_key"])

    async def records(self, *, since: float | None = None,
                      until: float | None = None) -> list[Record]:
        """Stored records in time order (ties in a stable order)."""
        def select(c: Any) -> list[Record]:
            query = sa.select(events)
            if since is not None:
                query = query.where(events.c.ts >= since)
            if until is not None:
                query = query.where(events.c.ts < until)
            rows = c.execute(query.order_by(events.c.ts, events.c.source.desc(),
                                            events.c.event_key)).mappings()
            return [Record.from_row(row) for row in rows]
        return list(await self._run(select))

    async def count(self) -> int:
        return int(await self._run(lambda c: c.execute(
            sa.select(sa.func.count()).select_from(events)).scalar()))

    async def erase(self, *, conversations: Sequence[str] = (), customers: Sequence[str] = ()) -> int:
        """Delete every row of these (pseudonymised) conversations and customers: a customer's
        conversations go entirely (Rasa's bot events name only the conversation)."""
        def delete(c: Any) -> int:
            theirs = set(conversations) | set(c.execute(
                sa.select(events.c.conversation).distinct()
                .where(events.c.customer.in_(list(customers)))).scalars())
            condition = sa.or_(events.c.conversation.in_(list(theirs)),
                               events.c.customer.in_(list(customers)))
            deleted = c.execute(events.delete().where(condition)).rowcount
            c.execute(reviews.delete().where(reviews.c.conversation.in_(list(theirs))))
            return int(deleted or 0)
        return int(await self._run(delete))

    async def expire(self) -> int:
        cutoff = self._clock() - self.retention_s

        def delete(c: Any) -> int:
            deleted = c.execute(events.delete().where(events.c.ts < cutoff)).rowcount
            c.execute(reviews.delete().where(reviews.c.started_at < cutoff))
            c.execute(alerts.delete().where(alerts.c.raised_at < cutoff))
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
            (r.conversation, r.started_at) for r in c.execute(sa.select(reviews))]))

    async def record_alert(self, *, signal: str, body: str) -> None:
        await self._run(lambda c: c.execute(alerts.insert().values(
            signal=signal, raised_at=self._clock(), body=body)))

    async def last_alerts(self) -> dict[str, float]:
        """When each signal last alerted (the spike detector's cooldown)."""
        return dict(await self._run(lambda c: [
            (r.signal, r.last) for r in c.execute(
                sa.select(alerts.c.signal, sa.func.max(alerts.c.raised_at).label("last"))
                .group_by(alerts.c.signal))]))

    async def alerts(self, *, limit: int = 20) -> list[dict[str, Any]]:
        def select(c: Any) -> list[dict[str, Any]]:
            import json
            rows = c.execute(sa.select(alerts).order_by(alerts.c.raised_at.desc()).limit(limit))
            return [{"signal": r.signal, "raised_at": r.raised_at, **json.loads(r.body)}
                    for r in rows]
        return list(await self._run(select))

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.dispose)


assert set(RECORD_FIELDS) == {c.name for c in events.columns}, "records and the table disagree"
