"""Analytics on the whole stack as `make run` starts it: Rasa's events (through the project's
event broker) and the gateway's case events land in var/analytics.db, redacted and
pseudonymised, and the figures count the conversation; /metrics answers with the stack's token."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest

from analytics.figures import compute
from analytics.pseudonyms import stored_key
from analytics.records import Kind, Pseudonyms, Record
from analytics.store import AnalyticsStore
from bot.stack import Stack
from tests.integration.conftest import OpenChat

pytestmark = pytest.mark.integration


async def records_of(stack: Stack, conversation: str, *, until: int) -> list[Record]:
    """The conversation's stored records once at least `until` of them are there."""
    store = AnalyticsStore(f"sqlite:///{stack.state_dir / 'analytics.db'}")
    try:
        async with asyncio.timeout(20):
            while True:
                mine = [r for r in await store.records() if r.conversation == conversation]
                if len(mine) >= until:
                    return mine
                await asyncio.sleep(0.2)
    finally:
        await store.close()


async def test_a_conversation_reaches_analytics_redacted(open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    started = time.time()
    await chat.turn("how long does shipping take?")
    await chat.turn("my email is jo.customer@example.com and my card 4111 1111 1111 1111")
    answer = await chat.turn("i want to talk to a person")
    assert re.search(r"case C-[0-9A-F]+", "\n".join(m["text"] for m in answer))
    pseudonyms = Pseudonyms(stored_key(stack.state_dir / "analytics.key").encode())
    conversation_id = await _conversation_id(stack, chat.session or "")
    records = await records_of(stack, pseudonyms.of(conversation_id), until=7)
    users = [r for r in records if r.kind is Kind.USER]
    assert [u.intent for u in users][0] == "faq"
    assert users[0].topic == "shipping_time"
    assert all(u.channel == "web" and u.sentiment is not None for u in users)
    assert all("4111" not in r.text and "jo.customer@" not in r.text for r in records)
    opened = [r for r in records if r.kind is Kind.CASE_OPENED]
    assert [r.trigger for r in opened] == ["customer_request"]
    await _nothing_identifying_stored(stack, conversation_id)
    figures = compute(records, since=started - 1, until=time.time() + 1, now=time.time())
    assert figures.ongoing == 1 and figures.customer_messages == 3
    assert figures.handoffs_by_topic == {"shipping_time": 1}  # the last FAQ asked before it


async def test_metrics_answer_with_the_stacks_token(stack: Stack) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.gateway_url}/metrics") as resp:
            assert resp.status == 401
        async with http.get(f"{stack.gateway_url}/metrics",
                            headers={"Authorization": f"Bearer {stack.metrics_token}"}) as resp:
            assert resp.status == 200
            assert "helpdesk_messages_total" in await resp.text()


async def _conversation_id(stack: Stack, session: str) -> str:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(stack.state_dir / "gateway.db")) as conn:
        (value,) = conn.execute("SELECT value FROM sessions WHERE token = ?", (session,)).fetchone()
    return str(value)


async def _nothing_identifying_stored(stack: Stack, conversation_id: str) -> None:
    """Every column of every row of the analytics database, not only this conversation's."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(stack.state_dir / "analytics.db")) as conn:
        rows = conn.execute("SELECT * FROM analytics_events").fetchall()
    dump = "\n".join(str(value) for row in rows for value in row)
    token = conversation_id.split(":", 1)[1]
    assert token not in dump and "jo.customer@" not in dump and "4111 1111" not in dump
