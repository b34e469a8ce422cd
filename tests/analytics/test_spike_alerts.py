"""Spike alerts on a scripted burst: a quiet day of "where is my order", then a carrier problem."""

from __future__ import annotations

from analytics.records import Record
from analytics.spikes import SpikeConfig, detect
from tests.analytics.script import HOUR, Conversation, at

CONFIG = SpikeConfig(window_s=HOUR, baseline_windows=24, factor=3.0, min_count=5,
                     cooldown_s=6 * HOUR)


def quiet_day() -> list[Record]:
    """One order question every two hours on day 0 (baseline: 0.5 an hour)."""
    records: list[Record] = []
    for n, hour in enumerate(range(0, 24, 2)):
        records += (Conversation(f"web:q{n}", "web", f"web:q{n}")
                    .user(at(0, hour, 5), "where is my order", "order_status", sentiment=0.0)
                    .records())
    return records


def burst(start_minute: int, count: int, *, day: int = 1, hour: int = 0) -> list[Record]:
    records: list[Record] = []
    for n in range(count):
        records += (Conversation(f"sms:+1555{day}{hour}{start_minute}{n:03d}", "sms", f"c{n}")
                    .user(at(day, hour, start_minute + n), f"my order {n} is late!!", "order_status",
                          sentiment=-0.5).records())
    return records


def test_a_burst_well_above_the_baseline_alerts_with_examples() -> None:
    spikes = detect(quiet_day() + burst(0, 8), now=at(1, 0, 30), config=CONFIG)
    by_signal = {s.signal: s for s in spikes}
    assert set(by_signal) == {"intent:order_status", "sentiment:negative"}
    spike = by_signal["intent:order_status"]
    assert (spike.count, spike.baseline) == (8, 0.5)
    assert spike.examples == ("my order 0 is late!!", "my order 1 is late!!",
                              "my order 2 is late!!")
    assert spike.describe() == ("Spike: intent order_status: 8 in the last hour, against 0.5 "
                                "an hour before")


def test_the_usual_traffic_does_not_alert() -> None:
    assert detect(quiet_day(), now=at(0, 23, 59), config=CONFIG) == []


def test_fewer_than_the_minimum_does_not_alert_even_from_zero() -> None:
    assert detect(burst(0, 4), now=at(1, 0, 30), config=CONFIG) == []


def test_one_alert_per_burst_within_the_cooldown() -> None:
    records = quiet_day() + burst(0, 20)
    first = detect(records, now=at(1, 0, 10), config=CONFIG)
    assert {s.signal for s in first} == {"intent:order_status", "sentiment:negative"}
    alerted = {s.signal: at(1, 0, 10) for s in first}
    # The burst goes on: every later check within six hours stays quiet.
    for minute in (11, 15, 19):
        assert detect(records, now=at(1, 0, minute), config=CONFIG, last_alerted=alerted) == []


def test_a_new_burst_after_the_cooldown_alerts_again() -> None:
    alerted = {"intent:order_status": at(1, 0, 10), "sentiment:negative": at(1, 0, 10)}
    records = quiet_day() + burst(0, 8) + burst(0, 8, day=1, hour=7)
    again = detect(records, now=at(1, 7, 30), config=CONFIG, last_alerted=alerted)
    assert {s.signal for s in again} == {"intent:order_status", "sentiment:negative"}


def test_escalation_triggers_and_faq_topics_are_signals_too() -> None:
    records: list[Record] = []
    for n in range(6):
        records += (Conversation(f"web:t{n}", "web", f"web:t{n}")
                    .user(at(1, 3, n), "do you ship to Norway", "faq", topic="international_shipping")
                    .gateway(at(1, 3, n, 30), "opened", case_id=f"C-{n}", trigger="frustration")
                    .records())
    signals = {s.signal for s in detect(records, now=at(1, 3, 59), config=CONFIG)}
    assert {"topic:international_shipping", "trigger:frustration", "intent:faq"} <= signals
