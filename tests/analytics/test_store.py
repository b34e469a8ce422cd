"""The analytics store on both databases it supports: the same schema and migrations, writes
that a redelivery cannot double, expiry and erasure."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import pytest
import sqlalchemy as sa

from analytics import store as store_module
from analytics.records import from_rasa
from analytics.store import AnalyticsStore
from tests.analytics.script import PSEUDONYMS, WEEK_END, at, records_of, the_week
from tests.stores.conftest import FakeClock



@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'analytics.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(url: str) -> AsyncIterator[AnalyticsStore]:
    opened = AnalyticsStore(url, retention_s=30 * 86400, clock=FakeClock(WEEK_END))
    yield opened
    await opened.close()


async def test_a_new_database_gets_every_migration(store: AnalyticsStore) -> None:
    assert await store.migrate() == len(store_module.MIGRATIONS)


async def test_an_older_database_is_upgraded_in_place(url: str) -> None:
    engine = sa.create_engine(url, future=True)
    with engine.begin() as c:  # a database that ran migration 1 only, with a row in it
        store_module.schema_version.create(c)
        store_module.MIGRATIONS[0](c)
        c.execute(store_module.schema_version.insert().values(version=1, applied_at=0.0))
        c.execute(store_module.events.insert().values(
            records_of(the_week())[0].row()))
    engine.dispose()
    upgraded = AnalyticsStore(url)
    try:
        assert await upgraded.migrate() == len(store_module.MIGRATIONS)
        assert await upgraded.count() == 1
        await upgraded.mark_reviewed(conversation="x", started_at=1.0, reviewer="lead")
    finally:
        await upgraded.close()


async def test_two_processes_starting_at_once_migrate_once(url: str) -> None:
    stores = [AnalyticsStore(url) for _ in range(3)]
    try:
        versions = await asyncio.gather(*(s.migrate() for s in stores))
        assert versions == [len(store_module.MIGRATIONS)] * 3
    finally:
        for opened in stores:
            await opened.close()


async def test_a_redelivered_event_is_stored_once(store: AnalyticsStore) -> None:
    records = records_of(the_week())
    assert await store.add(records) == len(records)
    assert await store.add(records) == 0
    assert await store.add(records[:3] + records[:3]) == 0
    assert await store.count() == len(records)


def test_the_same_rasa_event_always_has_the_same_key() -> None:
    event = {"sender_id": "web:x", "event": "user", "timestamp": 1700000000.123456,
             "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}
    reordered = dict(reversed(list(event.items())))
    first, again = from_rasa(event, PSEUDONYMS), from_rasa(reordered, PSEUDONYMS)
    later = from_rasa({**event, "timestamp": 1700000000.123457}, PSEUDONYMS)
    assert first is not None and again is not None and later is not None
    assert first.event_key == again.event_key != later.event_key


async def test_records_come_back_in_time_order(store: AnalyticsStore) -> None:
    records = records_of(the_week())
    await store.add(reversed(records))
    stored = await store.records()
    assert [r.ts for r in stored] == sorted(r.ts for r in records)
    assert {r.event_key for r in stored} == {r.event_key for r in records}
    assert await store.records(since=at(2, 0), until=at(3, 0)) == \
        [r for r in stored if at(2, 0) <= r.ts < at(3, 0)]


async def test_erasure_deletes_every_row_of_the_customer(store: AnalyticsStore) -> None:
    await store.add(records_of(the_week()))
    customer = PSEUDONYMS.of("web:a1")  # c1 and c4: two conversations, one customer
    deleted = await store.erase(customers=[customer])
    assert deleted == 8  # c1's six events and c4's two
    assert all(r.customer != customer and r.conversation != PSEUDONYMS.of("web:a2")
               for r in await store.records())


async def test_old_events_expire(url: str) -> None:
    clock = FakeClock(at(0, 0))
    store = AnalyticsStore(url, retention_s=2 * 86400, clock=clock)
    try:
        await store.add(records_of(the_week()))
        clock.now = at(3, 0)  # keeps day 1 onwards
        await store.expire()
        assert min(r.ts for r in await store.records()) >= at(1, 0)
    finally:
        await store.close()


async def test_quality_reviews_are_remembered(store: AnalyticsStore) -> None:
    await store.mark_reviewed(conversation="abc", started_at=10.0, reviewer="lead")
    await store.mark_reviewed(conversation="abc", started_at=10.0, reviewer="lead")
    assert await store.reviewed() == {("abc", 10.0)}


async def test_alerts_remember_when_each_signal_last_fired(store: AnalyticsStore) -> None:
    await store.record_alert(signal="intent:order_status", body='{"text": "a"}')
    assert await store.last_alerts() == {"intent:order_status": WEEK_END}
    assert (await store.alerts())[0]["text"] == "a"


def _write_many(url: str, worker: int, count: int) -> int:
    """One process adding `count` records, one transaction each (as Rasa's turns do)."""
    from analytics.records import Kind, Record, Source

    async def run() -> int:
        store = AnalyticsStore(url)
        added = 0
        try:
            for n in range(count):
                added += await store.add([Record(
                    event_key=f"{worker:04d}{n:028d}", source=Source.RASA, kind=Kind.USER,
                    ts=float(n), conversation=f"w{worker}", text="hello")])
        finally:
            await store.close()
        return added
    return asyncio.run(run())


def test_processes_writing_one_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    """The embedded default: Rasa and the gateway write the same file. A deferred transaction
    that read first failed at once with "database is locked"; writes take the lock up front."""
    from concurrent.futures import ProcessPoolExecutor

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    asyncio.run(AnalyticsStore(url).migrate())
    with ProcessPoolExecutor(max_workers=3) as pool:
        added = list(pool.map(_write_many, [url] * 3, range(3), [150] * 3))
    assert added == [150, 150, 150]


async def test_a_conversation_begun_before_the_period_is_cut_as_it_was_live(
        store: AnalyticsStore) -> None:
    """A case opened four hours before the period, resolved inside it: that conversation
    started before the period, so the period has none (not a new, contained one)."""
    from analytics.figures import compute
    from tests.analytics.script import Conversation

    long_case = (Conversation("sms:+15550000042", "sms", "sms:+15550000042")
                 .user(at(1, 6), "my parcel is lost", "order_status").bot(at(1, 6, 0, 1))
                 .user(at(1, 6, 1), "agent", "human_handoff")
                 .gateway(at(1, 6, 1, 1), "opened", case_id="C-42", trigger="customer_request")
                 .gateway(at(1, 10, 30), "customer_message", case_id="C-42", text="hello??")
                 .gateway(at(1, 10, 31), "agent_message", case_id="C-42", text="sorry!")
                 .gateway(at(1, 10, 40), "resolved", case_id="C-42"))
    await store.add(long_case.records())
    since = at(1, 10)
    records = await store.records_around(since)
    figures = compute(records, since=since, until=at(2, 0), now=at(2, 0))
    assert (figures.conversations, figures.ongoing, figures.containment_rate) == (0, 0, None)
    whole = compute(records, since=at(1, 0), until=at(2, 0), now=at(2, 0))
    assert (whole.conversations, whole.escalation_rate) == (1, 1.0)


async def test_events_arriving_after_the_erasure_are_not_stored(store: AnalyticsStore) -> None:
    """An erased customer's events still in a queue or a spool arrive later: not stored; the
    customer's new conversation after the erasure is."""
    from tests.analytics.script import Conversation

    before = (Conversation("sms:+15550000077", "sms", "sms:+15550000077")
              .user(at(0, 9), "my email is jo@example.com", "inform").records())
    await store.erase(customers=[PSEUDONYMS.of("sms:+15550000077")],
                      conversations=[PSEUDONYMS.of("sms:+15550000077")])
    assert await store.add(before) == 0  # said before the erasure (WEEK_END), delivered after
    later = (Conversation("sms:+15550000077", "sms", "sms:+15550000077")
             .user(WEEK_END + 60, "hi again", "greet").records())
    assert await store.add(later) == 1


async def test_alerts_quoting_an_erased_conversation_go_with_it(store: AnalyticsStore) -> None:
    import json

    quoted = PSEUDONYMS.of("web:q1")
    await store.record_alert(signal="intent:order_status", body=json.dumps(
        {"text": "Spike", "examples": ["my order is late"], "conversations": [quoted]}))
    await store.record_alert(signal="topic:returns", body=json.dumps(
        {"text": "Spike", "examples": ["returns?"], "conversations": [PSEUDONYMS.of("web:q2")]}))
    await store.erase(conversations=[quoted])
    assert [a["signal"] for a in await store.alerts()] == ["topic:returns"]
    assert "conversations" not in (await store.alerts())[0]
