"""Spike alerts in the running gateway: every minute, the last day of events is checked for
spikes (analytics/spikes.py); each new spike is stored and sent to the notifiers (the Slack inbox
channel, the leads' consoles). The cooldown holds across gateway instances: the stores'
idempotency key per signal decides which instance alerts, once. The same loop expires analytics
events past their retention, hourly."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable, Protocol, Sequence

from analytics.spikes import Spike, SpikeConfig, detect
from analytics.store import AnalyticsStore

log = logging.getLogger(__name__)

Notify = Callable[[Spike], Awaitable[None]]


class FirstSeen(Protocol):
    async def first_seen(self, key: str, *, ttl_s: int) -> bool: ...


class AlertWatcher:
    def __init__(self, store: AnalyticsStore, once: FirstSeen, *,
                 config: SpikeConfig = SpikeConfig(), interval_s: float = 60.0,
                 expire_every_s: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._expire_every_s = expire_every_s
        self._expired_at: float | None = None
        self._store = store
        self._once = once
        self.config = config
        self._interval_s = interval_s
        self.clock = clock
        self._notifiers: list[Notify] = []
        self._task: asyncio.Task[None] | None = None

    def notify(self, notifier: Notify) -> None:
        self._notifiers.append(notifier)

    async def check(self) -> list[Spike]:
        """One check; returns the spikes it alerted."""
        now = self.clock()
        span = (self.config.baseline_windows + 1) * self.config.window_s
        records = await self._store.records(since=now - span)
        last = await self._store.last_alerts()
        # A day of events, every minute: off the event loop the webhooks are answered on.
        spikes = await asyncio.to_thread(detect, records, now=now, config=self.config,
                                         last_alerted=last)
        raised: list[Spike] = []
        for spike in spikes:
            if not await self._once.first_seen(f"analytics-alert:{spike.signal}",
                                               ttl_s=int(self.config.cooldown_s)):
                continue  # another instance alerted this burst
            await self._store.record_alert(signal=spike.signal, body=json.dumps({
                "text": spike.describe(), "count": spike.count, "baseline": spike.baseline,
                "examples": list(spike.examples), "conversations": list(spike.conversations)}))
            raised.append(spike)
            for notifier in self._notifiers:
                try:
                    await notifier(spike)
                except Exception as exc:  # one unreachable inbox must not silence the others
                    log.warning("alert for %s not delivered by %s: %s", spike.signal,
                                getattr(notifier, "__qualname__", notifier), type(exc).__name__)
        return raised

    async def expire_if_due(self) -> int:
        now = self.clock()
        if self._expired_at is not None and now - self._expired_at < self._expire_every_s:
            return 0
        self._expired_at = now
        return await self._store.expire()

    async def _run(self) -> None:
        while True:
            try:
                await self.expire_if_due()
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("spike check failed: %s", type(exc).__name__)
            await asyncio.sleep(self._interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None


__all__: Sequence[str] = ("AlertWatcher",)
