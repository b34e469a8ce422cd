"""The alert watcher as the gateway runs it: a scripted burst in the analytics store alerts once
(stored, and sent to every notifier), and stays quiet for the cooldown, also with two gateway
instances checking at the same moment."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from analytics.alerts import AlertWatcher
from analytics.spikes import Spike, SpikeConfig
from analytics.store import AnalyticsStore
from bot.stores import memory_stores
from tests.analytics.script import at
from tests.analytics.test_spike_alerts import burst, quiet_day
from tests.stores.conftest import FakeClock

NOW = at(1, 0, 30)



@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AnalyticsStore]:
    opened = AnalyticsStore(f"sqlite:///{tmp_path / 'a.db'}", clock=FakeClock(NOW))
    await opened.add(quiet_day() + burst(0, 8))
    yield opened
    await opened.close()


async def test_a_burst_alerts_once_to_every_notifier(store: AnalyticsStore) -> None:
    stores = memory_stores()
    clock = FakeClock(NOW)
    watcher = AlertWatcher(store, stores.idempotency, config=SpikeConfig(), clock=clock)
    slack: list[str] = []
    consoles: list[Spike] = []

    async def to_slack(spike: Spike) -> None:
        slack.append(spike.describe() + " | " + " | ".join(spike.examples))

    async def to_consoles(spike: Spike) -> None:
        consoles.append(spike)
    watcher.notify(to_slack)
    watcher.notify(to_consoles)
    raised = await watcher.check()
    assert {s.signal for s in raised} == {"intent:order_status", "sentiment:negative"}
    assert len(slack) == len(consoles) == 2
    assert any(text.startswith("Spike: intent order_status: 8 in the last hour") and
               "| my order 0 is late!!" in text for text in slack)
    assert {a["signal"] for a in await store.alerts()} == {"intent:order_status",
                                                          "sentiment:negative"}
    clock.now = NOW + 10 * 60
    assert await watcher.check() == []  # the same burst, ten minutes on


async def test_two_instances_checking_together_alert_once(store: AnalyticsStore) -> None:
    import asyncio

    stores = memory_stores()  # the shared stores (Redis in production)
    first = AlertWatcher(store, stores.idempotency, clock=FakeClock(NOW))
    second = AlertWatcher(store, stores.idempotency, clock=FakeClock(NOW))
    # At the same moment: both read no earlier alert; the shared mark lets one post each.
    raised = [s for found in await asyncio.gather(first.check(), second.check()) for s in found]
    assert sorted(s.signal for s in raised) == ["intent:order_status", "sentiment:negative"]
    assert len(await store.alerts()) == 2


async def test_a_failing_notifier_does_not_silence_the_others(store: AnalyticsStore) -> None:
    watcher = AlertWatcher(store, memory_stores().idempotency, clock=FakeClock(NOW))
    got: list[str] = []

    async def broken(spike: Spike) -> None:
        raise ConnectionError("slack is down")

    async def working(spike: Spike) -> None:
        got.append(spike.signal)
    watcher.notify(broken)
    watcher.notify(working)
    await watcher.check()
    assert sorted(got) == ["intent:order_status", "sentiment:negative"]



async def test_the_watch_expires_old_events_hourly(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = AnalyticsStore(f"sqlite:///{tmp_path / 'e.db'}", retention_s=3600, clock=clock)
    try:
        await store.add(quiet_day())  # day 0, all older than an hour at NOW (day 1, 00:30)
        await store.add(burst(0, 8))  # day 1, 00:00 to 00:07
        watcher = AlertWatcher(store, memory_stores().idempotency, clock=clock)
        assert await watcher.expire_if_due() == 12
        clock.now = NOW + 1800  # the burst is now older than an hour, but the sweep is not due
        assert await watcher.expire_if_due() == 0
        clock.now = NOW + 3600
        assert await watcher.expire_if_due() == 8
        assert await store.count() == 0
    finally:
        await store.close()
