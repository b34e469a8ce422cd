"""The scripted week (tests/analytics/script.py) into an analytics database, to try the report
and the dashboard on known data:

    python -m tests.analytics.seed_week sqlite:///var/analytics-demo.db
    python -m analytics --db sqlite:///var/analytics-demo.db report --since 7d \\
        --now 1795996800 --recontact-days 3      # the week ends at 2026-11-30 00:00 UTC"""

from __future__ import annotations

import asyncio
import sys

from analytics.store import AnalyticsStore
from tests.analytics.script import records_of, the_week


async def seed(url: str) -> int:
    store = AnalyticsStore(url)
    try:
        return await store.add(records_of(the_week()))
    finally:
        await store.close()


if __name__ == "__main__":
    print(f"{asyncio.run(seed(sys.argv[1]))} events stored in {sys.argv[1]}")
