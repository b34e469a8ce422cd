"""Spike alerts reach the Slack inbox channel: the gateway's alert watcher posts one message per
burst with example messages, escaped so a customer's words cannot ping the channel."""

from __future__ import annotations

from pathlib import Path

from analytics.store import AnalyticsStore
from bot.app import ALERTS_KEY
from tests.analytics.gateway_settings import analytics_settings
from tests.analytics.script import Conversation, at
from tests.slack_inbox.conftest import INBOX, MakeGateway
from tests.stores.conftest import FakeClock


async def test_a_burst_is_posted_to_the_inbox_once(make_gateway: MakeGateway,
                                                   tmp_path: Path) -> None:
    settings = analytics_settings(tmp_path / "a.db")
    store = AnalyticsStore(settings["analytics_db_url"])
    try:
        for n in range(8):
            await store.add(Conversation(f"sms:+1555000{n:04d}", "sms", f"c{n}")
                            .user(at(1, 0, n), f"<!channel> order {n} is late", "order_status",
                                  sentiment=0.1).records())
    finally:
        await store.close()
    gateway = await make_gateway(settings=settings)
    watcher = gateway.app[ALERTS_KEY]
    watcher.clock = FakeClock(at(1, 0, 30))

    def posts() -> list[str]:
        return [c.body["text"] for c in gateway.slack.attempts("chat.postMessage")
                if c.ok and c.body.get("channel") == INBOX and "Spike" in c.body.get("text", "")]
    # This check, or the watcher's own minute loop if it came first: one post either way.
    await watcher.check()
    await gateway.until(lambda: len(posts()) == 1)
    assert await watcher.check() == []  # the same burst: no second post
    await gateway.settle()
    assert len(posts()) == 1
    (post,) = posts()
    assert post.startswith(":rotating_light: Spike: intent order_status: 8 in the last hour")
    assert "&lt;!channel&gt; order 0 is late" in post and "<!channel>" not in post
