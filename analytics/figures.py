"""The figures a team lead judges the assistant by, computed from stored events only, per
channel and per period. Every definition is in docs/analytics.md; the tests in
tests/analytics/ check each one exactly on scripted conversations."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from analytics.episodes import DEFAULT_INACTIVITY_S, Episode, episodes
from analytics.records import Kind, Record

DAY_S = 24 * 3600
DEFAULT_RECONTACT_S = 7 * DAY_S
NEGATIVE_SENTIMENT = -0.05  # VADER's compound score: below this a message reads as negative
TOP_N = 10


@dataclass(frozen=True)
class FigureConfig:
    inactivity_s: float = DEFAULT_INACTIVITY_S
    # A contact counts as resolved first time when the same customer does not come back
    # within this long (contacts whose window has not passed yet are not counted either way).
    recontact_s: float = DEFAULT_RECONTACT_S
    top_n: int = TOP_N


@dataclass(frozen=True)
class Durations:
    count: int
    median_s: float | None
    p90_s: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Durations:
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None)
        return cls(len(ordered), _median(ordered), ordered[math.ceil(0.9 * len(ordered)) - 1])


@dataclass(frozen=True)
class Figures:
    since: float
    until: float
    channel: str | None
    conversations: int            # episodes that ended in the period
    ongoing: int
    containment_rate: float | None
    escalation_rate: float | None
    escalations_by_trigger: dict[str, int]
    escalation_rate_by_trigger: dict[str, float]
    fcr_rate: float | None
    fcr_counted: int              # contacts judged: started in [fcr_since, fcr_until), window passed
    fcr_since: float
    fcr_until: float
    first_human_reply: Durations
    unanswered_cases: int         # cases with no agent reply (yet)
    time_to_resolution: Durations
    csat_average: float | None
    csat_distribution: dict[int, int]
    csat_asked: int
    csat_response_rate: float | None
    csat_by_service: dict[str, float | None]   # "bot" / "human": average rating
    sentiment_by_day: dict[str, float]
    customer_messages: int
    fallback_rate: float | None
    top_intents: list[tuple[str, int]]
    top_misunderstood: list[tuple[str, int]]
    handoffs_by_topic: dict[str, int]
    volume_by_day: dict[str, dict[str, int]]             # day -> channel -> customer messages
    containment_by_day: dict[str, float]
    escalation_by_day: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        values = dict(self.__dict__)
        for name in ("first_human_reply", "time_to_resolution"):
            values[name] = dict(getattr(self, name).__dict__)
        values["top_intents"] = [list(p) for p in self.top_intents]
        values["top_misunderstood"] = [list(p) for p in self.top_misunderstood]
        values["csat_distribution"] = {str(k): v for k, v in self.csat_distribution.items()}
        return values


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


def _median(ordered: Sequence[float]) -> float:
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def normalise_text(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s\[\]*@.']", " ", text.lower())).strip()


def compute(records: Iterable[Record], *, since: float, until: float, now: float,
            channel: str | None = None, config: FigureConfig = FigureConfig()) -> Figures:
    """Figures for episodes that started in [since, until), on one channel or all. `records`
    may include events outside the period: an episode that began before it is cut the same way
    as when it was live, and a recontact after it still counts against first-contact resolution."""
    return figures_of(episodes(records, now=now, inactivity_s=config.inactivity_s),
                      since=since, until=until, now=now, channel=channel, config=config)


def figures_of(every: Sequence[Episode], *, since: float, until: float, now: float,
               channel: str | None = None, config: FigureConfig = FigureConfig()) -> Figures:
    """compute() on episodes already cut (with `config.inactivity_s`): a report or a
    dashboard cuts them once for the overall figures, each channel's and the quality flags."""
    by_customer: dict[str, list[Episode]] = defaultdict(list)
    for episode in every:
        by_customer[episode.customer or episode.conversation].append(episode)
    chosen = [e for e in every if since <= e.start < until
              and (channel is None or e.channel == channel)]
    ended = [e for e in chosen if e.ended]
    escalated = [e for e in ended if e.escalated]
    triggers = Counter(e.trigger for e in escalated)

    # First-contact resolution needs the recontact window to have passed: it is judged on the
    # period shifted back by that window (the latest conversations that can be judged).
    fcr_since, fcr_until = since - config.recontact_s, until - config.recontact_s
    fcr_judged = [e for e in every if fcr_since <= e.start < fcr_until and e.ended
                  and (channel is None or e.channel == channel)
                  and e.end + config.recontact_s <= now]
    fcr_yes = [e for e in fcr_judged if e.resolved and not _came_back(e, by_customer, config)]

    first_replies: list[float] = []
    unanswered = 0
    for episode in chosen:
        for opened in episode.of(Kind.CASE_OPENED):
            replies = [r.ts for r in episode.records
                       if r.kind is Kind.AGENT_MESSAGE and r.case_id == opened.case_id]
            if replies:
                first_replies.append(min(replies) - opened.ts)
            else:
                unanswered += 1
    resolutions = [e.resolved_at - e.start for e in ended if e.resolved_at is not None]

    ratings = [r for e in chosen for r in e.of(Kind.RATED) if r.rating is not None]
    asked = sum(len(e.of(Kind.CSAT_ASKED)) for e in chosen)
    by_service: dict[str, list[int]] = {"bot": [], "human": []}
    for rating in ratings:
        by_service["human" if rating.case_id else "bot"].append(int(rating.rating or 0))

    messages = [r for e in chosen for r in e.of(Kind.USER)]
    missed = [r for e in chosen for r in e.fallbacks()]
    sentiment: dict[str, list[float]] = defaultdict(list)
    volume: dict[str, Counter[str]] = defaultdict(Counter)
    for episode in chosen:  # to the bot and, inside a case, to a person
        for message in episode.of(Kind.USER, Kind.CASE_CUSTOMER_MESSAGE):
            volume[day_of(message.ts)][message.channel or episode.channel or "unknown"] += 1
    for message in messages:
        if message.sentiment is not None:
            sentiment[day_of(message.ts)].append(message.sentiment)

    topics: Counter[str] = Counter()
    # Every handoff of the period counts here, also of conversations still going (a case
    # that is open now is exactly what a lead looking at topics wants to see).
    for episode in (e for e in chosen if e.escalated):
        topic = _topic_before_handoff(episode)
        if topic:
            topics[topic] += 1

    daily: dict[str, list[Episode]] = defaultdict(list)
    for episode in ended:
        daily[day_of(episode.start)].append(episode)

    return Figures(
        since=since, until=until, channel=channel,
        conversations=len(ended), ongoing=len(chosen) - len(ended),
        containment_rate=_rate(len(ended) - len(escalated), len(ended)),
        escalation_rate=_rate(len(escalated), len(ended)),
        escalations_by_trigger=dict(sorted(triggers.items())),
        escalation_rate_by_trigger={k: v / len(ended) for k, v in sorted(triggers.items())},
        fcr_rate=_rate(len(fcr_yes), len(fcr_judged)), fcr_counted=len(fcr_judged),
        fcr_since=fcr_since, fcr_until=fcr_until,
        first_human_reply=Durations.of(first_replies), unanswered_cases=unanswered,
        time_to_resolution=Durations.of(resolutions),
        csat_average=(sum(r.rating or 0 for r in ratings) / len(ratings)) if ratings else None,
        csat_distribution={n: sum(1 for r in ratings if r.rating == n) for n in range(1, 6)},
        csat_asked=asked, csat_response_rate=_rate(len(ratings), asked),
        csat_by_service={k: (sum(v) / len(v) if v else None) for k, v in by_service.items()},
        sentiment_by_day={d: sum(v) / len(v) for d, v in sorted(sentiment.items())},
        customer_messages=len(messages), fallback_rate=_rate(len(missed), len(messages)),
        top_intents=_top(Counter(m.intent for m in messages if m.intent), config.top_n),
        top_misunderstood=_top(Counter(normalise_text(m.text) for m in missed
                                       if normalise_text(m.text)), config.top_n),
        handoffs_by_topic=dict(sorted(topics.items())),
        volume_by_day={d: dict(sorted(c.items())) for d, c in sorted(volume.items())},
        containment_by_day={d: sum(1 for e in es if not e.escalated) / len(es)
                            for d, es in sorted(daily.items())},
        escalation_by_day={d: sum(1 for e in es if e.escalated) / len(es)
                           for d, es in sorted(daily.items())},
    )


def _top(counter: Counter[str], n: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _came_back(episode: Episode, by_customer: dict[str, list[Episode]],
               config: FigureConfig) -> bool:
    mine = by_customer[episode.customer or episode.conversation]
    return any(other is not episode and episode.end < other.start <= episode.end + config.recontact_s
               for other in mine)


def _topic_before_handoff(episode: Episode) -> str:
    """The FAQ topic the customer asked about last before the first case opened."""
    topic = ""
    for record in episode.records:
        if record.kind is Kind.CASE_OPENED:
            return topic
        if record.kind is Kind.USER and record.topic:
            topic = record.topic
    return topic


def channels_of(records: Iterable[Record]) -> list[str]:
    return sorted({r.channel for r in records if r.channel})
