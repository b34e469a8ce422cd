"""`!label <intent> [wrong]` in a case thread: the customer's latest message becomes a training
candidate under that intent; nothing reaches the customer, and a bad command is explained."""

from __future__ import annotations

from pathlib import Path

from analytics.records import Kind
from analytics.store import AnalyticsStore
from tests.analytics.gateway_settings import PSEUDONYMS, analytics_settings
from tests.slack_inbox.conftest import AGENT, MakeGateway


async def test_a_label_in_the_thread_records_a_correction(make_gateway: MakeGateway,
                                                          tmp_path: Path) -> None:
    gateway = await make_gateway(settings=analytics_settings(tmp_path / "a.db"))
    case = await gateway.open_case()
    await case.chat.say("the lamp arrived in pieces")
    await gateway.settle()
    await gateway.reply(case, "!label complaint wrong")
    await gateway.settle()
    store = AnalyticsStore(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        (label,) = [r for r in await store.records() if r.kind is Kind.RELABELLED]
    finally:
        await store.close()
    assert (label.intent, label.text, label.action) == ("complaint", "the lamp arrived in pieces",
                                                       "wrong_answer")
    assert label.conversation == PSEUDONYMS.of(case.conversation_id)
    assert label.agent == PSEUDONYMS.of(f"slack:{AGENT}")
    told = [c.body["text"] for c in gateway.slack.attempts("chat.postEphemeral")]
    assert any("\u201cthe lamp arrived in pieces\u201d means complaint and the bot's answer was wrong"
               in t for t in told)
    # Never relayed to the customer: the desk's transcript has no agent line at all.
    transcript = await gateway.stores.transcripts.recent(case.conversation_id, limit=50)
    assert [e for e in transcript if e["role"] == "agent" or "!label" in e["text"]] == []


async def test_an_unknown_intent_is_explained(make_gateway: MakeGateway, tmp_path: Path) -> None:
    gateway = await make_gateway(settings=analytics_settings(tmp_path / "a.db"))
    case = await gateway.open_case()
    await case.chat.say("hello?")
    await gateway.settle()
    await gateway.reply(case, "!label grumpy")
    await gateway.settle()
    told = [c.body["text"] for c in gateway.slack.attempts("chat.postEphemeral")]
    assert any(t.startswith("Use `!label <intent> [wrong]`") and "order_status" in t for t in told)
