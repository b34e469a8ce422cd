"""Whether a person can take a handoff now: inside configured hours and, when presence is
required, with at least one agent online (signed in to the console or a Slack inbox configured).

AGENT_HOURS examples: "always" (default), "never", "mon-fri 08:00-20:00; sat 09:00-17:00"
AGENT_TIMEZONE: an IANA zone, default "America/New_York"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.settings import SettingsError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_RULE = re.compile(r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<t1>\d{1,2}:\d{2})-(?P<t2>\d{1,2}:\d{2})$")


@dataclass(frozen=True)
class OpeningHours:
    spec: str = "always"
    timezone: str = "America/New_York"
    windows: tuple[tuple[int, time, time], ...] = ()

    @classmethod
    def parse(cls, spec: str, timezone: str = "America/New_York") -> OpeningHours:
        spec = (spec or "always").strip().lower()
        try:
            ZoneInfo(timezone)
        except Exception as exc:  # ZoneInfo raises several types for a bad key
            raise SettingsError(f"AGENT_TIMEZONE {timezone!r} is not a known time zone") from exc
        if spec in ("always", "never"):
            return cls(spec=spec, timezone=timezone)
        windows: list[tuple[int, time, time]] = []
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            match = _RULE.match(part)
            if not match or match["d1"] not in DAYS or (match["d2"] and match["d2"] not in DAYS):
                raise SettingsError(f"AGENT_HOURS part {part!r} is not like 'mon-fri 08:00-20:00'")
            first = DAYS.index(match["d1"])
            last = DAYS.index(match["d2"] or match["d1"])
            start, end = time.fromisoformat(match["t1"].zfill(5)), time.fromisoformat(match["t2"].zfill(5))
            windows += [(day, start, end) for day in range(first, last + 1)]
        return cls(spec=spec, timezone=timezone, windows=tuple(windows))

    def is_open(self, at: datetime) -> bool:
        if self.spec == "always":
            return True
        if self.spec == "never":
            return False
        local = at.astimezone(ZoneInfo(self.timezone))
        return any(day == local.weekday() and start <= local.time() < end
                   for day, start, end in self.windows)

    def describe(self) -> str:
        if self.spec == "always":
            return "around the clock"
        if self.spec == "never":
            return "only by follow-up"
        return f"{self.spec} ({self.timezone})"


@dataclass
class Availability:
    hours: OpeningHours = field(default_factory=OpeningHours)
    presence_required: bool = True
    online: dict[str, int] = field(default_factory=dict)

    def agent_online(self, agent: str) -> None:
        self.online[agent] = self.online.get(agent, 0) + 1

    def agent_offline(self, agent: str) -> None:
        if self.online.get(agent, 0) <= 1:
            self.online.pop(agent, None)
        else:
            self.online[agent] -= 1

    def staffed(self, at: datetime) -> bool:
        if not self.hours.is_open(at):
            return False
        return bool(self.online) or not self.presence_required
