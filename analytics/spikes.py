"""Spike alerts: an intent, FAQ topic, escalation trigger or negative sentiment rising well
above its recent baseline (docs/analytics.md, "Spike alerts"). One alert per burst: a signal
that alerted stays quiet for `cooldown_s`."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

from analytics.figures import NEGATIVE_SENTIMENT
from analytics.records import Kind, Record


@dataclass(frozen=True)
class SpikeConfig:
    window_s: float = 3600.0        # the recent window compared with the baseline
    baseline_windows: int = 24      # how many windows before it make the baseline
    factor: float = 3.0             # alert at this many times the baseline average...
    min_count: int = 5              # ...and at least this many events in the window
    cooldown_s: float = 6 * 3600.0
    examples: int = 3


@dataclass(frozen=True)
class Spike:
    signal: str                     # "intent:order_status", "topic:returns", "trigger:...", "sentiment:negative"
    window_start: float
    count: int
    baseline: float                 # average per window before
    examples: tuple[str, ...]
    conversations: tuple[str, ...] = ()  # the examples' (pseudonymised), for the erasure

    def describe(self) -> str:
        kind, _, name = self.signal.partition(":")
        what = {"intent": f"intent {name}", "topic": f"FAQ topic {name}",
                "trigger": f"escalations ({name})",
                "sentiment": "negative messages"}.get(kind, self.signal)
        return (f"Spike: {what}: {self.count} in the last hour, against {self.baseline:.1f} "
                f"an hour before")


def signals_of(record: Record) -> list[str]:
    found = []
    if record.kind is Kind.USER:
        if record.intent:
            found.append(f"intent:{record.intent}")
        if record.topic:
            found.append(f"topic:{record.topic}")
        if record.sentiment is not None and record.sentiment <= NEGATIVE_SENTIMENT:
            found.append("sentiment:negative")
    elif record.kind is Kind.CASE_OPENED:
        found.append(f"trigger:{record.trigger or 'unknown'}")
    return found


def detect(records: Iterable[Record], *, now: float, config: SpikeConfig = SpikeConfig(),
           last_alerted: Mapping[str, float] | None = None) -> list[Spike]:
    """Signals spiking in the window ending at `now`, except those alerted within the cooldown."""
    last_alerted = last_alerted or {}
    window_start = now - config.window_s
    baseline_start = window_start - config.baseline_windows * config.window_s
    recent: Counter[str] = Counter()
    before: Counter[str] = Counter()
    examples: dict[str, list[tuple[str, str]]] = {}
    for record in records:
        if not baseline_start <= record.ts < now:
            continue
        for signal in signals_of(record):
            if record.ts >= window_start:
                recent[signal] += 1
                if record.text and len(examples.setdefault(signal, [])) < config.examples:
                    examples[signal].append((record.text, record.conversation))
            else:
                before[signal] += 1
    spikes = []
    for signal, count in sorted(recent.items()):
        baseline = before[signal] / config.baseline_windows
        if count < config.min_count or count < config.factor * max(baseline, 1.0):
            continue
        if now - last_alerted.get(signal, -math.inf) < config.cooldown_s:
            continue
        quoted = examples.get(signal, [])
        spikes.append(Spike(signal=signal, window_start=window_start, count=count,
                            baseline=baseline, examples=tuple(t for t, _ in quoted),
                            conversations=tuple(sorted({c for _, c in quoted}))))
    return spikes
