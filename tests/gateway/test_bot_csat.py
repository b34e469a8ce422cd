"""CSAT after the bot's own service: when the bot says goodbye (utter_goodbye carries the
conversation_ended directive), a sampled share of customers is asked for a 1-5 rating; the
question and the answer are analytics events, so bot and human service can be compared."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest
import yaml

from analytics.records import Kind
from analytics.store import AnalyticsStore
from bot.directives import Directive
from bot.engine import BOT_RATING_QUESTION
from bot.stores import Stores
from tests.analytics.gateway_settings import analytics_settings
from tests.chat_client import ChatClient
from tests.fakes.rasa import FakeRasa, Reply
from tests.gateway.conftest import Gateway
from tests.gateways import start_gateway

ROOT = Path(__file__).resolve().parents[2]
GOODBYE = "Thanks for chatting with Northwind Goods. Take care! 👋"


def replies(text: str) -> Reply:
    if text == "bye":
        return [{"text": GOODBYE}, {"custom": {"gateway": str(Directive.CONVERSATION_ENDED)}}]
    return [{"text": f"You said: {text}"}]


@pytest.fixture
def fake_rasa() -> FakeRasa:  # type: ignore[override]
    return FakeRasa(replies=replies)


async def gateway_with(fake_rasa: FakeRasa, serve, stores: Stores, tmp_path: Path,
                       rate: float) -> Gateway:
    url = await serve(fake_rasa.app())
    running = await start_gateway(fake_rasa, url, stores=stores, csat_bot_sample_rate=rate,
                                  **analytics_settings(tmp_path / "a.db"))
    gateway = Gateway(url=running.url, engine=running.engine, stores=stores, rasa=fake_rasa)
    gateway.stop = running.stop  # type: ignore[attr-defined]
    return gateway


@pytest.fixture
async def always(fake_rasa: FakeRasa, serve, stores: Stores,
                 tmp_path: Path) -> AsyncIterator[Gateway]:
    gateway = await gateway_with(fake_rasa, serve, stores, tmp_path, 1.0)
    yield gateway
    await gateway.stop()  # type: ignore[attr-defined]


async def records(tmp_path: Path) -> list:
    store = AnalyticsStore(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        return await store.records()
    finally:
        await store.close()


async def chat_on(gateway: Gateway, http) -> ChatClient:
    chat = ChatClient(await http.ws_connect(f"{gateway.url}/webchat/ws"))
    await chat.hello()
    return chat


def test_the_goodbye_response_carries_the_directive() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    (goodbye,) = domain["responses"]["utter_goodbye"]
    assert goodbye["custom"] == {"gateway": "conversation_ended"}


async def test_a_sampled_customer_rates_the_bot(always: Gateway, http, tmp_path: Path) -> None:
    chat = await chat_on(always, http)
    answer = await chat.turn("bye")
    assert [m["text"] for m in answer][0] == GOODBYE
    question = await chat.take(lambda f: f.get("type") == "message"
                               and f.get("text") == BOT_RATING_QUESTION)
    assert [b["title"] for b in question["buttons"]] == ["1", "2", "3", "4", "5"]
    thanks = await chat.tap("4", "/rate_4")
    assert [m["text"] for m in thanks] == ["Thank you for your feedback!"]
    await always.engine.idle()
    found = [(r.kind, r.rating, r.case_id) for r in await records(tmp_path)
             if r.kind in (Kind.CSAT_ASKED, Kind.RATED)]
    assert found == [(Kind.CSAT_ASKED, None, ""), (Kind.RATED, 4, "")]
    assert "/rate_4" not in always.rasa.texts()  # the rating never reaches Rasa


async def test_outside_the_sample_nobody_is_asked(fake_rasa: FakeRasa, serve, stores: Stores,
                                                 tmp_path: Path, http) -> None:
    gateway = await gateway_with(fake_rasa, serve, stores, tmp_path, 0.0)
    try:
        chat = await chat_on(gateway, http)
        await chat.turn("bye")
        await gateway.engine.idle()
        conversation_id = await stores.sessions.get(chat.session or "")
        assert (await stores.conversations.get(str(conversation_id))).awaiting_rating is None
        assert [r for r in await records(tmp_path) if r.kind is Kind.CSAT_ASKED] == []
    finally:
        await gateway.stop()  # type: ignore[attr-defined]


async def test_a_non_rating_answer_goes_to_the_bot(always: Gateway, http) -> None:
    chat = await chat_on(always, http)
    await chat.turn("bye")
    await chat.take(lambda f: f.get("text") == BOT_RATING_QUESTION)
    answer = await chat.turn("actually, one more thing")
    assert [m["text"] for m in answer] == ["You said: actually, one more thing"]
