"""Automatic quality flags for every conversation, from its events (docs/analytics.md,
"Quality flags"), so leads review the conversations that went wrong instead of a random few."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Iterable

from analytics.episodes import Episode
from analytics.figures import normalise_text
from analytics.records import WRONG_ANSWER, Kind


class Flag(StrEnum):
    FALLBACK_LOOP = "fallback_loop"
    SENTIMENT_DROP = "sentiment_drop"
    REPEATED = "customer_repeated"
    WRONG_ANSWER_HANDOFF = "handoff_after_wrong_answer"
    SLOW_AGENT = "slow_agent_reply"
    UNANSWERED = "unanswered_message"
    UNRATED_RESOLUTION = "resolved_without_rating"


@dataclass(frozen=True)
class QualityConfig:
    fallback_loop: int = 2          # fallbacks in a row
    sentiment_drop: float = 0.6     # fall of VADER's compound score from one message to a later one
    slow_agent_s: float = 300.0     # first agent reply later than this
    repeat_min_chars: int = 8       # "ok" twice is not repeating oneself
    rating_grace_s: float = 3600.0  # how long a customer has to answer the rating question


@dataclass(frozen=True)
class FlaggedEpisode:
    episode: Episode
    flags: dict[Flag, str]          # flag -> the reason in words


def flags_of(episode: Episode, config: QualityConfig = QualityConfig(), *,
             now: float = math.inf) -> dict[Flag, str]:
    found: dict[Flag, str] = {}
    users = episode.of(Kind.USER)
    missed = {id(r) for r in episode.fallbacks()}
    run = best = 0
    for record in users:
        run = run + 1 if id(record) in missed else 0
        best = max(best, run)
    if best >= config.fallback_loop:
        found[Flag.FALLBACK_LOOP] = f"{best} messages in a row not understood"

    scores = [r.sentiment for r in users if r.sentiment is not None]
    peak, drop = None, 0.0
    for score in scores:
        peak = score if peak is None else max(peak, score)
        drop = max(drop, peak - score)
    if drop >= config.sentiment_drop:
        found[Flag.SENTIMENT_DROP] = f"sentiment fell by {drop:.2f}"

    seen: dict[str, int] = {}
    for record in users + episode.of(Kind.CASE_CUSTOMER_MESSAGE):
        text = normalise_text(record.text)
        if len(text) >= config.repeat_min_chars:
            seen[text] = seen.get(text, 0) + 1
    repeated = sorted(t for t, n in seen.items() if n > 1)
    if repeated:
        found[Flag.REPEATED] = f"said {len(repeated)} thing(s) more than once: {repeated[0]!r}"

    opened = episode.of(Kind.CASE_OPENED)
    if opened:
        wrong = [r for r in episode.of(Kind.RELABELLED) if r.action == WRONG_ANSWER]
        before = [r for r in users if r.ts < opened[0].ts]
        if wrong:
            found[Flag.WRONG_ANSWER_HANDOFF] = "an agent marked the bot's answer wrong"
        elif len(before) >= 2 and before[-2].topic and not before[-1].topic:
            found[Flag.WRONG_ANSWER_HANDOFF] = (f"asked for a person right after the answer "
                                                f"about {before[-2].topic}")
        for case in opened:
            replies = [r.ts for r in episode.records
                       if r.kind is Kind.AGENT_MESSAGE and r.case_id == case.case_id]
            if replies and min(replies) - case.ts > config.slow_agent_s:
                found[Flag.SLOW_AGENT] = f"first agent reply after {min(replies) - case.ts:.0f} s"
            resolved = [r.ts for r in episode.of(Kind.CASE_RESOLVED) if r.case_id == case.case_id]
            if resolved and now - resolved[0] > config.rating_grace_s and not any(
                    r.kind is Kind.RATED and r.case_id == case.case_id for r in episode.records):
                found[Flag.UNRATED_RESOLUTION] = f"case {case.case_id} resolved without a rating"

    if episode.ended and not episode.answered \
            and not episode.of(Kind.CASE_RESOLVED, Kind.CASE_CANCELLED):
        found[Flag.UNANSWERED] = "the customer's last message got no answer"
    return found


def flagged(found: Iterable[Episode], config: QualityConfig = QualityConfig(), *,
            now: float = math.inf) -> list[FlaggedEpisode]:
    result = []
    for episode in found:
        reasons = flags_of(episode, config, now=now)
        if reasons:
            result.append(FlaggedEpisode(episode, reasons))
    return result
