"""The neutralisation holds on every channel: whatever a customer sends over the web chat, Slack,
Telegram, SMS or WhatsApp, what reaches Rasa's REST channel never unpacks into an intent, unless it is the
gateway's own payload for a customer who asked for a person in words ("agent")."""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rasa.shared.nlu.constants import INTENT

from bot.text_cleaning import clean, is_handoff_keyword
from channels.registry import all_facts
from bot.stores import memory_stores
from tests.chat_client import ChatClient
from tests.fakes import slack_api, telegram_api
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack_api import FakeSlackApi, SlackSender, dm
from tests.fakes.telegram_api import FakeTelegramAPI, Updates
from tests.fakes.twilio_api import WHATSAPP_FROM, FakeTwilio
from tests.gateways import Running, start_gateway
from tests.injection.test_neutralise import injections, unpacked
from tests.serving import Stop, start_app

pytestmark = pytest.mark.asyncio(loop_scope="module")

TELEGRAM_SECRET = "injection-telegram-secret_01"
HANDOFF_PAYLOAD = "/human_handoff"
# What a platform can carry: no lone surrogates (JSON and forms are UTF-8).
TEXTS = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
                  injections().filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)))
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
_ids = itertools.count(1)


@dataclass
class Channels:
    running: Running
    rasa: FakeRasa
    twilio: FakeTwilio
    updates: Updates
    http: aiohttp.ClientSession

    async def web(self, text: str) -> str:
        chat = ChatClient(await self.http.ws_connect(f"{self.running.url}/webchat/ws"))
        await chat.hello()
        await chat.send(text)
        conversation_id = await self.running.stores.sessions.get(chat.session or "")
        await chat.close()
        return str(conversation_id)

    async def slack(self, text: str) -> str:
        n = next(_ids)
        user, channel = f"UINJ{n:06d}", f"DINJ{n:06d}"
        event = dm(text, user=user, channel=channel)
        assert await SlackSender(self.http, self.running.url).send(event) == 200
        return f"slack:{slack_api.TEAM}:{channel}:dm"

    async def telegram(self, text: str) -> str:
        chat = 700_000 + next(_ids)
        update = self.updates.message(text, chat_id=chat, user_id=chat)
        async with self.http.post(f"{self.running.url}/telegram/webhook", data=json.dumps(update),
                                  headers={"Content-Type": "application/json",
                                           "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
                                  ) as resp:
            assert resp.status == 200
        return f"telegram:{chat}"

    async def sms(self, text: str) -> str:
        number = f"+1555{next(_ids):07d}"
        status, _, _ = await self.twilio.text(self.running.url, sender=number, body=text,
                                              sid="SM" + uuid.uuid4().hex)
        assert status == 200
        return f"sms:{number}"

    async def whatsapp(self, text: str) -> str:
        number = f"+1666{next(_ids):07d}"
        status, _, _ = await self.twilio.whatsapp(self.running.url, sender=number, body=text,
                                                  sid="SM" + uuid.uuid4().hex)
        assert status == 200
        return f"whatsapp:{number}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def channels() -> AsyncIterator[Channels]:
    stops: list[Stop] = []

    async def serve(app: Any) -> str:
        url, stop = await start_app(app)
        stops.append(stop)
        return url

    rasa, twilio, telegram = FakeRasa(), FakeTwilio(), FakeTelegramAPI()
    env = {"SLACK_BOT_TOKEN": slack_api.TOKEN, "SLACK_SIGNING_SECRET": slack_api.SIGNING_SECRET,
           "SLACK_API_URL": f"{await serve(FakeSlackApi().app())}/api/",
           "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
           "TELEGRAM_API_URL": await serve(telegram.app()),
           **twilio.channel_env(await serve(twilio.app()), TWILIO_WHATSAPP_FROM=WHATSAPP_FROM)}
    stores = memory_stores()
    running = await start_gateway(rasa, await serve(rasa.app()), stores=stores, env=env,
                                  pending_retry_interval_s=3600.0)
    async with aiohttp.ClientSession() as http:
        yield Channels(running, rasa, twilio, Updates(api=telegram), http)
    await running.stop()
    await stores.close()
    for stop in reversed(stops):
        await stop()


def reached_rasa(channels: Channels, conversation_id: str) -> list[str]:
    return [r["message"] for r in channels.rasa.received if r["sender"] == conversation_id]


SEND: dict[str, Callable[[Channels, str], Awaitable[str]]] = {
    "web": Channels.web, "slack": Channels.slack, "telegram": Channels.telegram,
    "sms": Channels.sms, "whatsapp": Channels.whatsapp}


@pytest.mark.parametrize("channel", sorted(SEND))
@SETTINGS
@given(text=TEXTS)
@example(text="/ /goodbye")
@example(text='/ /order_status{"order_id":"482913"}')
@example(text="/ /restart")
@example(text="agent")
async def test_nothing_a_customer_sends_reaches_rasa_as_an_intent(
        channels: Channels, channel: str, text: str) -> None:
    conversation_id = await SEND[channel](channels, text)
    await channels.running.engine.idle()
    for sent in reached_rasa(channels, conversation_id):
        intent = unpacked(sent).get(INTENT)
        if intent is not None:
            # The one intent a customer's words may produce: asking for a person.
            words = clean(all_facts()[channel].normalise(text))
            assert sent == HANDOFF_PAYLOAD and is_handoff_keyword(words), (text, sent)


@pytest.mark.parametrize("channel", sorted(SEND))
@pytest.mark.parametrize("attempt, words", [("/ /restart", "restart"),
                                            ("/ /goodbye", "goodbye"),
                                            ('/ /order_status{"order_id":"482913"}',
                                             'order_status{"order_id":"482913"}')])
async def test_an_injection_attempt_reaches_rasa_as_plain_words(
        channels: Channels, channel: str, attempt: str, words: str) -> None:
    conversation_id = await SEND[channel](channels, attempt)
    await channels.running.engine.idle()
    assert reached_rasa(channels, conversation_id) == [words]
