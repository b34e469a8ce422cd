"""Handoff scenario fixtures: the real gateway app (create_app) with all four customer channels on,
each pointed at its local fake platform API and driven through the real platform library; a fake
Rasa whose handoff intent behaves like the action server; and agents signed in to the web console.

The handoff itself travels the production path: the customer asks for a person, the gateway sends
"/human_handoff" to Rasa, and the fake Rasa (tests/fakes/rasa.py) does what
action_handoff_to_human does, inside the conversation's lock: it builds the context package from
the tracker events it recorded, POSTs it to the gateway's /handoff/v1/cases with the shared secret
(production HandoffClient), pauses the tracker and utters the receipt's customer_message, which
the gateway delivers on the customer's own channel."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import aiohttp
import pytest
from aiohttp import web

from bot.app import DESK_KEY, ENGINE_KEY
from bot.cases import CaseDesk
from bot.engine import ConversationEngine
from bot.state import Case
from bot.stores import Stores, memory_stores
from inbox.agents import hash_password
from tests.console.conftest import AgentSocket
from tests.conftest import Serve
from tests.gateways import start_gateway
from tests.fakes import slack_api, telegram_api
from tests.fakes.rasa import FakeRasa


def intent_of(text: str) -> str:
    if text == "/human_handoff":
        return "human_handoff"
    if "parcel" in text or "order" in text:
        return "order_status"
    return "inform"
from tests.fakes.slack_api import FakeSlackApi, SlackSender
from tests.fakes.telegram_api import FakeTelegramAPI, Updates
from tests.fakes.twilio_api import WHATSAPP_FROM, FakeTwilio

TELEGRAM_SECRET = "handoff-telegram-webhook-secret_01"
TELEGRAM_CHAT = 4242
SMS_NUMBER = "+447700900123"
CHANNELS = ("web", "slack", "telegram", "sms", "whatsapp")

ANA, ANA_PASSWORD = "ana@northwind.example", "ana-correct-horse"
# Hashed once per run (scrypt is deliberately slow).
AGENT_ACCOUNTS = f"{ANA}:{hash_password(ANA_PASSWORD)}"

T = TypeVar("T")


async def eventually(check: Callable[[], T], *, timeout: float = 5.0, what: str = "") -> T:
    """Re-evaluate `check` until it returns something other than None/False (and return it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what or check}")
        await asyncio.sleep(0.01)


# --- the gateway ------------------------------------------------------------------------------
@dataclass
class Fakes:
    rasa: FakeRasa
    rasa_url: str
    slack: FakeSlackApi
    slack_url: str
    telegram: FakeTelegramAPI
    telegram_url: str
    twilio: FakeTwilio
    twilio_url: str
    updates: Updates = field(default_factory=Updates)

    def env(self) -> dict[str, str]:
        return {
            "AGENT_ACCOUNTS": AGENT_ACCOUNTS,
            "SLACK_BOT_TOKEN": slack_api.TOKEN, "SLACK_SIGNING_SECRET": slack_api.SIGNING_SECRET,
            "SLACK_API_URL": self.slack_url, "SLACK_CHANNELS": slack_api.SUPPORT_CHANNEL,
            "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": self.telegram_url,
            **self.twilio.channel_env(self.twilio_url, TWILIO_WHATSAPP_FROM=WHATSAPP_FROM),
        }


@pytest.fixture
async def fakes(serve: Serve) -> Fakes:
    rasa, slack = FakeRasa(intent_of=intent_of), FakeSlackApi()
    telegram, twilio = FakeTelegramAPI(), FakeTwilio()
    return Fakes(rasa=rasa, rasa_url=await serve(rasa.app()),
                 slack=slack, slack_url=f"{await serve(slack.app())}/api/",
                 telegram=telegram, telegram_url=await serve(telegram.app()),
                 twilio=twilio, twilio_url=await serve(twilio.app()))


@dataclass
class Gateway:
    url: str
    app: web.Application
    stores: Stores
    fakes: Fakes
    http: aiohttp.ClientSession
    shutdown: Callable[[], Awaitable[None]]

    @property
    def rasa(self) -> FakeRasa:
        return self.fakes.rasa

    @property
    def desk(self) -> CaseDesk:
        return self.app[DESK_KEY]

    @property
    def engine(self) -> ConversationEngine:
        return self.app[ENGINE_KEY]

    async def settle(self) -> None:
        """Wait until the engine has processed every queued customer message."""
        await asyncio.wait_for(self.engine.idle(), 10)

    async def stop(self) -> None:
        await self.shutdown()


MakeGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(fakes: Fakes, http: aiohttp.ClientSession
                       ) -> AsyncIterator[MakeGateway]:
    """make_gateway(stores=None, env=None, **settings) -> a running gateway with every channel
    on (env adds to the channels' environment); the
    fake action server hands off to the newest one. `gateway.stop()` shuts one down mid-test."""
    shutdowns: list[Callable[[], Awaitable[None]]] = []
    opened: list[Stores] = []

    async def make(*, stores: Stores | None = None, env: dict[str, str] | None = None,
                   **settings: Any) -> Gateway:
        stores = stores or memory_stores()
        opened.append(stores)
        settings.setdefault("pending_retry_interval_s", 3600.0)
        running = await start_gateway(fakes.rasa, fakes.rasa_url, stores=stores,
                                      env={**fakes.env(), **(env or {})}, **settings)
        shutdowns.append(running.stop)
        return Gateway(url=running.url, app=running.app, stores=stores, fakes=fakes, http=http,
                       shutdown=running.stop)

    yield make
    for shutdown in reversed(shutdowns):
        await shutdown()
    for stores in opened:
        await stores.close()


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> Gateway:
    return await make_gateway()


# --- customers, one kind per channel -----------------------------------------------------------
@dataclass(frozen=True)
class Received:
    text: str
    role: str | None = None  # the web chat says who speaks; the platforms only carry text
    buttons: tuple[dict[str, Any], ...] = ()


class Customer:
    """A customer on one channel: `say` sends as the platform would, `received` is what the
    platform API was asked to show them. `expect` consumes received messages in order."""

    channel: str
    conversation_id: str

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.cursor = 0
        self.last = Received("")  # what `expect` found last

    async def say(self, text: str) -> None:
        raise NotImplementedError

    def received(self) -> list[Received]:
        raise NotImplementedError

    async def expect(self, fragment: str, *, timeout: float = 5.0) -> Received:
        """The next received message (after those expected so far) that contains `fragment`."""
        def find() -> int | None:
            messages = self.received()
            return next((i for i in range(self.cursor, len(messages))
                         if fragment in messages[i].text), None)
        try:
            index = await eventually(find, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"{self.channel} customer never shown {fragment!r}; got "
                                 f"{[m.text for m in self.received()[self.cursor:]]}") from None
        self.cursor = index + 1
        self.last = self.received()[index]
        return self.last

    def unread(self) -> list[Received]:
        return self.received()[self.cursor:]


class WebCustomer(Customer):
    channel = "web"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self.session: str | None = None
        self.history: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, gateway: Gateway | None = None) -> None:
        """Open the chat tab (again, on `gateway`, resuming the session when there is one)."""
        self.gateway = gateway or self.gateway
        await self.disconnect()
        self.ws = await self.gateway.http.ws_connect(f"{self.gateway.url}/webchat/ws")
        await self.ws.send_json({"type": "hello", "session": self.session})
        while True:
            frame = json.loads((await asyncio.wait_for(self.ws.receive(), 5)).data)
            if frame["type"] == "session":
                break
        self.session, self.history = frame["session"], frame["history"]
        cid = await self.gateway.stores.sessions.get(self.session)
        assert cid is not None
        self.conversation_id = cid
        self._reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(msg.data)
                if frame["type"] == "message":
                    self.frames.append(frame)

    async def disconnect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self.ws = self._reader = None

    async def say(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send_json({"type": "message", "id": uuid.uuid4().hex, "text": text})

    async def press(self, title: str, payload: str) -> None:
        assert self.ws is not None
        await self.ws.send_json({"type": "button", "id": uuid.uuid4().hex, "title": title,
                                 "payload": payload})

    def received(self) -> list[Received]:
        return [Received(f["text"], f["role"], tuple(f.get("buttons") or ()))
                for f in self.frames if f["role"] != "customer"]


class SlackCustomer(Customer):
    """A customer in a direct message with the bot."""

    channel = "slack"
    conversation_id = f"slack:{slack_api.TEAM}:{slack_api.DM_CHANNEL}:dm"

    async def say(self, text: str) -> None:
        events = SlackSender(self.gateway.http, self.gateway.url)
        assert await events.send(slack_api.dm(text)) == 200

    def received(self) -> list[Received]:
        return [Received(p["text"]) for p in self.gateway.fakes.slack.posts()
                if p.get("channel") == slack_api.DM_CHANNEL]


class TelegramCustomer(Customer):
    """A customer in a private chat with the bot (webhook mode)."""

    channel = "telegram"
    conversation_id = f"telegram:{TELEGRAM_CHAT}"

    async def say(self, text: str) -> None:
        update = self.gateway.fakes.updates.message(text, chat_id=TELEGRAM_CHAT,
                                                    user_id=TELEGRAM_CHAT)
        async with self.gateway.http.post(
                f"{self.gateway.url}/telegram/webhook", json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}) as resp:
            assert resp.status == 200

    def received(self) -> list[Received]:
        return [Received(t) for t in self.gateway.fakes.telegram.sent_texts(TELEGRAM_CHAT)]


class SmsCustomer(Customer):
    """A customer texting the Twilio number."""

    channel = "sms"
    conversation_id = f"sms:{SMS_NUMBER}"

    async def say(self, text: str) -> None:
        status, _, _ = await self.gateway.fakes.twilio.text(
            self.gateway.url, sender=SMS_NUMBER, body=text, sid="SM" + uuid.uuid4().hex)
        assert status == 200

    def received(self) -> list[Received]:
        return [Received(b) for b in self.gateway.fakes.twilio.bodies(SMS_NUMBER)]


class WhatsAppCustomer(Customer):
    """A customer writing to the business on WhatsApp."""

    channel = "whatsapp"
    conversation_id = f"whatsapp:{SMS_NUMBER}"

    async def say(self, text: str) -> None:
        status, _, _ = await self.gateway.fakes.twilio.whatsapp(
            self.gateway.url, sender=SMS_NUMBER, body=text, sid="SM" + uuid.uuid4().hex)
        assert status == 200

    def received(self) -> list[Received]:
        return [Received(b) for b in self.gateway.fakes.twilio.bodies(self.conversation_id)]


MakeCustomer = Callable[..., Awaitable[Customer]]


@pytest.fixture
async def make_customer(make_gateway: MakeGateway) -> AsyncIterator[MakeCustomer]:
    # (Depends on make_gateway so open chat tabs close before any gateway shuts down.)
    web_customers: list[WebCustomer] = []

    async def make(gateway: Gateway, channel: str = "web") -> Customer:
        if channel == "web":
            customer = WebCustomer(gateway)
            await customer.connect()
            web_customers.append(customer)
            return customer
        kinds: dict[str, type[Customer]] = {"slack": SlackCustomer, "telegram": TelegramCustomer,
                                             "sms": SmsCustomer, "whatsapp": WhatsAppCustomer}
        return kinds[channel](gateway)

    yield make
    for customer in web_customers:
        await customer.disconnect()


async def hand_off(customer: Customer) -> Case:
    """The customer asks for a person; returns the case the action server opened (what the
    customer was told is `customer.last`)."""
    await customer.say("agent")
    await customer.expect("case C-")
    case = await customer.gateway.desk.open_case_of(customer.conversation_id)
    assert case is not None, f"no open case for {customer.conversation_id}"
    return case


# --- agents in the web console ------------------------------------------------------------------
@dataclass
class Agent:
    """An agent's browser on the console: a cookie jar and the JSON API under /console/api."""

    gateway: Gateway
    http: aiohttp.ClientSession
    email: str = ANA

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": {"Origin": self.gateway.url}}
        if body is not None:
            kwargs["json"] = body
        async with self.http.request(method, f"{self.gateway.url}/console/api{path}",
                                     **kwargs) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text else None

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.call(method, path, body)
        assert status == 200, (method, path, status, answer)
        return answer

    async def login(self) -> None:
        await self.ok("POST", "/login", {"email": self.email, "password": ANA_PASSWORD})

    async def cases(self) -> list[dict[str, Any]]:
        return list((await self.ok("GET", "/cases"))["cases"])

    async def case(self, case_id: str) -> dict[str, Any]:
        return dict(await self.ok("GET", f"/cases/{case_id}"))

    async def act(self, case_id: str, action: str, body: Any = None) -> dict[str, Any]:
        return dict(await self.ok("POST", f"/cases/{case_id}/{action}",
                                  {} if body is None else body))

    async def socket(self) -> AgentSocket:
        socket = AgentSocket(await self.http.ws_connect(f"{self.gateway.url}/console/ws"))
        await socket.next("hello")
        return socket


MakeAgent = Callable[[Gateway], Awaitable[Agent]]


@pytest.fixture
async def make_agent(make_gateway: MakeGateway) -> AsyncIterator[MakeAgent]:
    """make_agent(gateway) -> Ana, signed in to that gateway's console."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(gateway: Gateway) -> Agent:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        agent = Agent(gateway, http)
        await agent.login()
        return agent

    yield make
    for http in sessions:
        await http.close()
