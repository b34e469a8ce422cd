"""Sentiment of customer messages with VADER (a lexicon-based analyser that ships its lexicon, so
nothing is downloaded at run time). Scores are VADER's compound score in [-1, 1]."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=1)
def _analyser() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def warm() -> None:
    """Load the lexicon now rather than on the first message."""
    _analyser()


def score(text: str) -> float:
    return float(_analyser().polarity_scores(text or "")["compound"])


@dataclass(frozen=True, slots=True)
class SentimentSummary:
    latest: float
    average: float
    trend: str  # "improving", "worsening" or "steady"
    scores: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "latest": round(self.latest, 3),
            "average": round(self.average, 3),
            "trend": self.trend,
            "scores": [round(s, 3) for s in self.scores],
        }


def summarise(texts: list[str], *, window: int = 2, min_change: float = 0.25) -> SentimentSummary:
    """Score each message and compare the last `window` messages with the first ones."""
    scores = tuple(score(t) for t in texts)
    if not scores:
        return SentimentSummary(latest=0.0, average=0.0, trend="steady", scores=())
    head = scores[:window]
    tail = scores[-window:]
    change = sum(tail) / len(tail) - sum(head) / len(head)
    trend = "steady"
    if len(scores) > window and change <= -min_change:
        trend = "worsening"
    elif len(scores) > window and change >= min_change:
        trend = "improving"
    return SentimentSummary(
        latest=scores[-1], average=sum(scores) / len(scores), trend=trend, scores=scores
    )
