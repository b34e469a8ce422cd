"""The figures as a table and as PNG plots (`python -m analytics report`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from analytics.episodes import episodes
from analytics.figures import DAY_S, FigureConfig, Figures, channels_of, figures_of
from analytics.quality import QualityConfig, flagged
from analytics.records import Record


@dataclass(frozen=True)
class Report:
    overall: Figures
    by_channel: dict[str, Figures]
    flags_by_week: dict[str, dict[str, int]]   # ISO week -> flag -> conversations


def build(records: Sequence[Record], *, since: float, until: float, now: float,
          config: FigureConfig = FigureConfig(),
          quality: QualityConfig = QualityConfig()) -> Report:
    found = episodes(records, now=now, inactivity_s=config.inactivity_s)
    overall = figures_of(found, since=since, until=until, now=now, config=config)
    by_channel = {channel: figures_of(found, since=since, until=until, now=now, channel=channel,
                                      config=config) for channel in channels_of(records)}
    weeks: dict[str, Counter[str]] = {}
    chosen = [e for e in found if since <= e.start < until]
    for item in flagged(chosen, quality, now=now):
        week = datetime.fromtimestamp(item.episode.start, timezone.utc).strftime("%G-W%V")
        for flag in item.flags:
            weeks.setdefault(week, Counter())[str(flag)] += 1
    return Report(overall, by_channel, {w: dict(sorted(c.items())) for w, c in sorted(weeks.items())})


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


ROWS: tuple[tuple[str, object], ...] = (
    ("Conversations (ended)", lambda f: str(f.conversations)),
    ("Still going", lambda f: str(f.ongoing)),
    ("Containment", lambda f: _pct(f.containment_rate)),
    ("Escalation", lambda f: _pct(f.escalation_rate)),
    ("First-contact resolution*", lambda f: f"{_pct(f.fcr_rate)} of {f.fcr_counted}"),
    ("First human reply, median", lambda f: _secs(f.first_human_reply.median_s)),
    ("First human reply, p90", lambda f: _secs(f.first_human_reply.p90_s)),
    ("Cases without a reply", lambda f: str(f.unanswered_cases)),
    ("Time to resolution, median", lambda f: _secs(f.time_to_resolution.median_s)),
    ("Time to resolution, p90", lambda f: _secs(f.time_to_resolution.p90_s)),
    ("CSAT average (1-5)", lambda f: _num(f.csat_average)),
    ("CSAT responses", lambda f: f"{_pct(f.csat_response_rate)} of {f.csat_asked}"),
    ("CSAT bot / human", lambda f: f"{_num(f.csat_by_service['bot'])} / "
                                   f"{_num(f.csat_by_service['human'])}"),
    ("Customer messages", lambda f: str(f.customer_messages)),
    ("Fallback rate", lambda f: _pct(f.fallback_rate)),
)


def table(report: Report) -> str:
    columns = {"all": report.overall, **report.by_channel}
    header = ["", *columns]
    rows = [header] + [[name, *(cell(f) for f in columns.values())]  # type: ignore[operator]
                       for name, cell in ROWS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    f = report.overall
    since = datetime.fromtimestamp(f.since, timezone.utc).strftime("%Y-%m-%d %H:%M")
    until = datetime.fromtimestamp(f.until, timezone.utc).strftime("%Y-%m-%d %H:%M")
    fcr_since = datetime.fromtimestamp(f.fcr_since, timezone.utc).strftime("%Y-%m-%d %H:%M")
    fcr_until = datetime.fromtimestamp(f.fcr_until, timezone.utc).strftime("%Y-%m-%d %H:%M")
    out = [f"Figures for {since} to {until} UTC (definitions: docs/analytics.md)", "",
           *lines, f"* of the conversations of {fcr_since} to {fcr_until}: the latest whose "
                   "recontact window has passed", ""]
    out.append("Escalations by trigger: " + (", ".join(
        f"{k} {v} ({_pct(f.escalation_rate_by_trigger[k])})"
        for k, v in f.escalations_by_trigger.items()) or "none"))
    out.append("CSAT distribution: " + ", ".join(f"{k}: {v}" for k, v in f.csat_distribution.items()))
    out.append("Handoffs per FAQ topic: " + (", ".join(
        f"{k} {v}" for k, v in f.handoffs_by_topic.items()) or "none"))
    out.append("Top intents: " + (", ".join(f"{k} {v}" for k, v in f.top_intents) or "none"))
    out.append("Top misunderstood: " + (", ".join(
        f"{k!r} {v}" for k, v in f.top_misunderstood) or "none"))
    out.append("Sentiment by day: " + (", ".join(
        f"{d} {v:+.2f}" for d, v in f.sentiment_by_day.items()) or "none"))
    out.append("Quality flags by week: " + ("; ".join(
        f"{week}: " + ", ".join(f"{k} {v}" for k, v in flags.items())
        for week, flags in report.flags_by_week.items()) or "none"))
    return "\n".join(out)


PLOTS = ("volume_by_channel.png", "containment_escalation.png", "csat_distribution.png",
         "top_fallbacks.png")


def plots(report: Report, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    f = report.overall
    written: list[Path] = []
    days = _days(f.since, f.until)

    def save(fig: object, name: str) -> None:
        path = out_dir / name
        fig.tight_layout()  # type: ignore[attr-defined]
        fig.savefig(path, dpi=100)  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
        written.append(path)

    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = [0] * len(days)
    for channel in sorted({c for per in f.volume_by_day.values() for c in per}):
        values = [f.volume_by_day.get(d, {}).get(channel, 0) for d in days]
        ax.bar(days, values, bottom=bottom, label=channel)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_title("Customer messages per channel per day")
    ax.set_ylabel("messages")
    ax.tick_params(axis="x", rotation=45)
    if f.volume_by_day:
        ax.legend()
    save(fig, PLOTS[0])

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(days, [f.containment_by_day.get(d) for d in days], marker="o", label="containment")
    ax.plot(days, [f.escalation_by_day.get(d) for d in days], marker="s", label="escalation")
    ax.set_ylim(0, 1)
    ax.set_title("Containment and escalation per day (conversations that ended)")
    ax.tick_params(axis="x", rotation=45)
    ax.legend()
    save(fig, PLOTS[1])

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([str(k) for k in f.csat_distribution], list(f.csat_distribution.values()),
           color="#2b7a78")
    ax.set_title(f"CSAT ratings (average {_num(f.csat_average)})")
    ax.set_xlabel("rating")
    ax.set_ylabel("answers")
    save(fig, PLOTS[2])

    fig, ax = plt.subplots(figsize=(8, 4))
    top = list(reversed(f.top_misunderstood))
    ax.barh([t[:40] for t, _ in top], [n for _, n in top], color="#c0392b")
    ax.set_title("Messages the bot did not understand most often")
    ax.set_xlabel("times")
    save(fig, PLOTS[3])
    return written


def _days(since: float, until: float) -> list[str]:
    start = int(since // DAY_S)
    end = int((until - 1) // DAY_S)
    return [datetime.fromtimestamp(d * DAY_S, timezone.utc).strftime("%Y-%m-%d")
            for d in range(start, end + 1)][:366]

