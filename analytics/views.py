"""What the console's dashboard shows, as JSON: the figures, the flagged conversations with their
reasons, the quality review state and recent alerts (inbox/dashboard.py serves it to leads)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Callable

from analytics.episodes import episodes
from analytics.figures import DAY_S, FigureConfig, channels_of, figures_of
from analytics.quality import QualityConfig, flagged
from analytics.records import Kind, Record
from analytics.store import CONTEXT_S, AnalyticsStore

_WHO = {Kind.USER: "customer", Kind.CASE_CUSTOMER_MESSAGE: "customer", Kind.BOT: "bot",
        Kind.AGENT_MESSAGE: "agent"}
MAX_DAYS = 92
MAX_FLAGGED = 200


@dataclass
class AnalyticsViews:
    store: AnalyticsStore
    figures: FigureConfig = FigureConfig()
    quality: QualityConfig = QualityConfig()
    clock: Callable[[], float] = time.time

    async def dashboard(self, *, days: int, channel: str | None) -> dict[str, Any]:
        days = max(1, min(MAX_DAYS, days))
        now = self.clock()
        since = now - days * DAY_S
        # Back to the first-contact window's start, with each conversation's earlier events.
        records = await self.store.records_around(since - self.figures.recontact_s)
        reviewed = await self.store.reviewed()
        alerts = await self.store.alerts(limit=20)
        # Up to months of events: computed off the event loop that answers webhooks.
        return await asyncio.to_thread(self._dashboard, records, since=since, now=now,
                                       days=days, channel=channel, reviewed=reviewed,
                                       alerts=alerts)

    def _dashboard(self, records: list[Record], *, since: float, now: float, days: int,
                   channel: str | None, reviewed: set[tuple[str, float]],
                   alerts: list[dict[str, Any]]) -> dict[str, Any]:
        found = episodes(records, now=now, inactivity_s=self.figures.inactivity_s)
        figures = figures_of(found, since=since, until=now, now=now, channel=channel,
                             config=self.figures)
        chosen = [e for e in found
                  if since <= e.start < now and (channel is None or e.channel == channel)]
        flagged_items = [
            {"conversation": item.episode.conversation, "started_at": item.episode.start,
             "channel": item.episode.channel,
             "flags": [{"flag": str(f), "reason": reason} for f, reason in item.flags.items()],
             "reviewed": (item.episode.conversation, item.episode.start) in reviewed}
            for item in flagged(chosen, self.quality, now=now)]
        flagged_items.sort(key=lambda i: (i["reviewed"], -i["started_at"]))
        return {"since": since, "until": now, "days": days, "channel": channel,
                "channels": channels_of(records), "figures": figures.as_dict(),
                "flagged": flagged_items[:MAX_FLAGGED],
                "flagged_total": len(flagged_items),
                "flagged_open": sum(1 for i in flagged_items if not i["reviewed"]),
                "alerts": alerts}

    async def transcript(self, conversation: str, started_at: float) -> list[dict[str, Any]] | None:
        """The conversation (episode) whose first event is at `started_at`."""
        records = await self.store.records(since=started_at - CONTEXT_S, conversation=conversation)
        found = episodes(records, now=self.clock(), inactivity_s=self.figures.inactivity_s)
        episode = next((e for e in found
                        if any(abs(r.ts - started_at) < 1e-6 for r in e.records)), None)
        if episode is None:
            return None
        return [{"ts": r.ts, "who": _WHO[r.kind], "text": r.text, "intent": r.intent,
                 "confidence": r.confidence} for r in episode.records if r.kind in _WHO]

    async def mark_reviewed(self, conversation: str, started_at: float, reviewer: str) -> None:
        await self.store.mark_reviewed(conversation=conversation, started_at=started_at,
                                       reviewer=reviewer)
