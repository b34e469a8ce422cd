"""Every figure of docs/analytics.md on the scripted week (tests/analytics/script.py), exactly.
Each expected value is worked out by hand from the script, conversation by conversation."""

from __future__ import annotations

from fractions import Fraction

import pytest

from analytics.figures import FigureConfig, Figures, compute
from tests.analytics.script import T0, WEEK_END, at, records_of, the_week

CONFIG = FigureConfig(recontact_s=3 * 86400)


@pytest.fixture(scope="module")
def week() -> Figures:
    return compute(records_of(the_week()), since=T0, until=WEEK_END, now=WEEK_END, config=CONFIG)


def close_to(value: Fraction | float) -> object:
    return pytest.approx(float(value), abs=1e-12)


def test_conversations_that_ended_and_those_still_going(week: Figures) -> None:
    # c1..c6 and c8 ended; c7's last message is ten minutes before the end of the week.
    assert (week.conversations, week.ongoing) == (7, 1)


def test_containment_counts_conversations_that_ended_without_a_person(week: Figures) -> None:
    # c2, c3 and c5 opened a case; c1, c4, c6 and c8 did not.
    assert week.containment_rate == close_to(Fraction(4, 7))
    assert week.escalation_rate == close_to(Fraction(3, 7))


def test_escalations_by_trigger(week: Figures) -> None:
    assert week.escalations_by_trigger == {"customer_request": 2, "repeated_fallback": 1}
    assert week.escalation_rate_by_trigger == {"customer_request": close_to(Fraction(2, 7)),
                                               "repeated_fallback": close_to(Fraction(1, 7))}


def test_first_contact_resolution_excludes_recontacts_and_unjudged_contacts(week: Figures) -> None:
    # Judged (window of 3 days passed): c1 c2 c3 c4 c5 c6; c8 ended on day 4 at 08:00.
    # Resolved first time: c2 (case resolved), c4, c5 (case resolved), c6. Not: c1 (customer a
    # came back on day 2 as c4), c3 (case cancelled, nothing resolved).
    assert week.fcr_counted == 6
    assert week.fcr_rate == close_to(Fraction(4, 6))


def test_time_to_first_human_reply_over_cases(week: Figures) -> None:
    # C-1: opened 11:02:01, first agent message 11:04:01; C-3: 12:01:01 -> 12:11:01; C-2 none.
    assert week.first_human_reply.count == 2
    assert week.first_human_reply.median_s == 360.0
    assert week.first_human_reply.p90_s == 600.0
    assert week.unanswered_cases == 1


def test_time_to_resolution_over_resolved_contacts(week: Figures) -> None:
    # c4 1 s (answered, then idle), c1 120 s (goodbye), c6 180 s, c2 600 s, c5 1200 s (resolved).
    assert week.time_to_resolution.count == 5
    assert week.time_to_resolution.median_s == 180.0
    assert week.time_to_resolution.p90_s == 1200.0


def test_csat_average_distribution_and_response_rate(week: Figures) -> None:
    # Asked after c2, c5 (cases) and c6 (bot, sampled); answered 4 (c2) and 5 (c6).
    assert week.csat_average == close_to(4.5)
    assert week.csat_distribution == {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    assert week.csat_asked == 3
    assert week.csat_response_rate == close_to(Fraction(2, 3))
    assert week.csat_by_service == {"bot": 5.0, "human": 4.0}


def test_sentiment_trend_is_the_daily_average_of_customer_messages(week: Figures) -> None:
    assert week.sentiment_by_day == {
        "2026-11-23": close_to(Fraction(2, 60)),   # (0.3+0.1+0.2+0.2-0.6+0.0)/6
        "2026-11-24": close_to(-0.1),              # (0.0-0.2)/2
        "2026-11-25": close_to(Fraction(-2, 30)),  # (0.1+0.0-0.3)/3
        "2026-11-26": close_to(0.25),
        "2026-11-27": close_to(0.0),
        "2026-11-29": close_to(0.0),
    }


def test_fallback_rate_counts_customer_messages_not_understood(week: Figures) -> None:
    # 15 customer messages; not understood: "you are useless" (c2) and "asdf qwerty" twice (c3).
    assert week.customer_messages == 15
    assert week.fallback_rate == close_to(Fraction(3, 15))


def test_top_intents(week: Figures) -> None:
    assert week.top_intents == [("faq", 3), ("nlu_fallback", 3), ("goodbye", 2), ("greet", 2),
                                ("human_handoff", 2), ("order_status", 2), ("password_reset", 1)]


def test_top_misunderstood_messages(week: Figures) -> None:
    assert week.top_misunderstood == [("asdf qwerty", 2), ("you are useless", 1)]


def test_handoffs_per_faq_topic_take_the_last_topic_before_the_case(week: Figures) -> None:
    # Only c5 asked an FAQ before its case (c2 asked about an order, c3 was never understood).
    assert week.handoffs_by_topic == {"shipping_cost": 1}


def test_volume_per_channel_per_day(week: Figures) -> None:
    assert week.volume_by_day == {
        "2026-11-23": {"sms": 3, "web": 3}, "2026-11-24": {"telegram": 2},
        "2026-11-25": {"slack": 2, "web": 1}, "2026-11-26": {"web": 2},
        "2026-11-27": {"web": 1}, "2026-11-29": {"sms": 1}}


def test_containment_and_escalation_per_day(week: Figures) -> None:
    assert week.containment_by_day == {"2026-11-23": 0.5, "2026-11-24": 0.0,
                                       "2026-11-25": 0.5, "2026-11-26": 1.0, "2026-11-27": 1.0}
    assert week.escalation_by_day == {"2026-11-23": 0.5, "2026-11-24": 1.0,
                                      "2026-11-25": 0.5, "2026-11-26": 0.0, "2026-11-27": 0.0}


@pytest.mark.parametrize(("channel", "conversations", "containment"), [
    ("web", 3, 1.0),        # c1, c4, c6 (c8 too): contained
    ("sms", 1, 0.0),        # c2 (c7 is still going)
    ("telegram", 1, 0.0),
    ("slack", 1, 0.0),
])
def test_figures_per_channel(channel: str, conversations: int, containment: float) -> None:
    figures = compute(records_of(the_week()), since=T0, until=WEEK_END, now=WEEK_END,
                      channel=channel, config=CONFIG)
    expected = conversations + (1 if channel == "web" else 0)  # c8 is a web conversation
    assert (figures.conversations, figures.containment_rate) == (expected, containment)


def test_a_period_counts_the_conversations_that_started_in_it() -> None:
    figures = compute(records_of(the_week()), since=at(2, 0), until=at(3, 0), now=WEEK_END,
                      config=CONFIG)
    assert figures.conversations == 2  # c4 and c5
    assert figures.escalations_by_trigger == {"customer_request": 1}


def test_the_same_events_given_twice_count_once() -> None:
    once = records_of(the_week())
    replay = compute(once + once[::-1], since=T0, until=WEEK_END, now=WEEK_END, config=CONFIG)
    assert replay.as_dict() == compute(once, since=T0, until=WEEK_END, now=WEEK_END,
                                       config=CONFIG).as_dict()
