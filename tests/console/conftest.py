"""Agent console fixtures: the real gateway app (create_app) with two agent accounts, a fake Rasa
that also answers /model/parse with an FAQ ranking, web chat customers, and signed-in agents."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from bot.handoff_package import build_package
from bot.app import DESK_KEY, ENGINE_KEY
from bot.cases import CaseDesk
from bot.engine import ConversationEngine
from bot.stores import Stores, memory_stores, redis_stores
from inbox.agents import hash_password
from inbox.console import CONSOLE_KEY, AgentConsole
from tests.chat_client import ChatClient
from tests.conftest import REDIS_URL, Serve
from tests.fakes.rasa import FakeRasa
from tests.gateways import HANDOFF_SECRET, start_gateway

ANA, ANA_PASSWORD = "ana@northwind.example", "ana-correct-horse"
BO, BO_PASSWORD = "bo@northwind.example", "bo-battery-staple"
PASSWORDS = {ANA: ANA_PASSWORD, BO: BO_PASSWORD}
# Hashed once per test run (scrypt is deliberately slow).
AGENT_ACCOUNTS = ",".join(f"{email}:{hash_password(pw)}" for email, pw in PASSWORDS.items())


def faq_ranking(text: str) -> list[dict[str, Any]]:
    """The fake NLU: what a trained response selector would rank for a few phrasings."""
    text = text.lower()
    if "ship" in text or "parcel" in text or "deliver" in text:
        keys = [("faq/shipping_time", 0.81), ("faq/shipping_cost", 0.11),
                ("faq/international_shipping", 0.05), ("faq/return_policy", 0.02),
                ("faq/warranty", 0.01)]
    elif "refund" in text or "return" in text:
        keys = [("faq/refund_time", 0.72), ("faq/return_policy", 0.24), ("faq/cancel_order", 0.04)]
    else:
        keys = [("faq/support_hours", 0.40), ("faq/gift_cards", 0.35), ("faq/nonexistent", 0.2),
                ("faq/warranty", 0.05)]
    return [{"intent_response_key": k, "confidence": c, "id": i} for i, (k, c) in enumerate(keys)]


@dataclass
class NluFakeRasa(FakeRasa):
    """FakeRasa whose /model/parse answers with response_selector.faq.ranking (the console's
    suggested replies read it)."""

    ranking: Callable[[str], list[dict[str, Any]]] = faq_ranking
    parsed: list[str] = field(default_factory=list)
    parse_down: bool = False

    async def _parse(self, request: web.Request) -> web.Response:
        if self.parse_down:
            return web.Response(status=503)
        return await super()._parse(request)

    def parse(self, text: str) -> dict[str, Any]:
        self.parsed.append(text)
        ranking = self.ranking(text)
        return {
            "text": text, "intent": {"name": "faq", "confidence": 0.9}, "entities": [],
            "response_selector": {"all_retrieval_intents": ["faq"], "faq": {
                "response": {"intent_response_key": ranking[0]["intent_response_key"]
                             if ranking else None},
                "ranking": ranking}}}


@dataclass
class Gateway:
    url: str
    app: web.Application
    stores: Stores
    rasa: NluFakeRasa

    @property
    def console(self) -> AgentConsole:
        return self.app[CONSOLE_KEY]

    @property
    def desk(self) -> CaseDesk:
        return self.app[DESK_KEY]

    @property
    def engine(self) -> ConversationEngine:
        return self.app[ENGINE_KEY]

    @property
    def origin(self) -> str:
        return self.url


@pytest.fixture
async def fake_rasa(serve: Serve) -> NluFakeRasa:
    fake = NluFakeRasa()
    fake.url = await serve(fake.app())  # type: ignore[attr-defined]
    return fake


@pytest.fixture
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    """Memory stores by default; parametrize indirectly with "redis" for the real Redis under a
    throw-away prefix (removed afterwards)."""
    if getattr(request, "param", "memory") == "memory":
        built = memory_stores()
        yield built
        await built.close()
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # the suite needs the real server; say so instead of skipping
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc} (make test-deps starts it)")
    prefix = f"test-console-{uuid.uuid4().hex[:10]}:"
    yield redis_stores(REDIS_URL, prefix=prefix)
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
async def gateway(fake_rasa: NluFakeRasa, stores: Stores) -> AsyncIterator[Gateway]:
    running = await start_gateway(fake_rasa, fake_rasa.url,  # type: ignore[attr-defined]
                                  stores=stores, env={"AGENT_ACCOUNTS": AGENT_ACCOUNTS},
                                  pending_retry_interval_s=3600.0)
    yield Gateway(url=running.url, app=running.app, stores=stores, rasa=fake_rasa)
    await running.stop()


# --- agents --------------------------------------------------------------------------------
@dataclass
class AgentClient:
    """A signed-in (or not) agent's browser: a cookie jar plus the console's JSON API."""

    gateway: Gateway
    http: aiohttp.ClientSession
    email: str | None = None

    async def request(self, method: str, path: str, body: Any = None, *,
                      origin: str | None = "same",
                      headers: dict[str, str] | None = None) -> tuple[int, Any]:
        headers = dict(headers or {})
        if origin == "same":
            headers["Origin"] = self.gateway.origin
        elif origin is not None:
            headers["Origin"] = origin
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.gateway.url + path, **kwargs) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text) if text else None
            except ValueError:
                return resp.status, text

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.request("GET", "/console/api" + path)

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.request("POST", "/console/api" + path, {} if body is None else body, **kw)

    async def login(self, email: str, password: str | None = None, *,
                    forwarded_for: str | None = None) -> tuple[int, Any]:
        status, body = await self.request(
            "POST", "/console/api/login", {"email": email, "password": password or PASSWORDS[email]},
            headers={"X-Forwarded-For": forwarded_for} if forwarded_for else None)
        if status == 200:
            self.email = email
        return status, body

    async def ws(self) -> "AgentSocket":
        ws = await self.http.ws_connect(self.gateway.url + "/console/ws")
        socket = AgentSocket(ws)
        await socket.next("hello")
        return socket


@dataclass
class AgentSocket:
    ws: aiohttp.ClientWebSocketResponse
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def next(self, kind: str, *, timeout: float = 5.0,
                   where: Callable[[dict[str, Any]], bool] = lambda f: True) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            while True:
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket closed: {msg.type} {msg.data}")
                frame = json.loads(msg.data)
                self.seen.append(frame)
                if frame["type"] == kind and where(frame):
                    return frame
        return await asyncio.wait_for(read(), timeout)

    async def event(self, kind: str, case_id: str | None = None, **kw: Any) -> dict[str, Any]:
        return await self.next("event", where=lambda f: f["kind"] == kind and (
            case_id is None or f["case_id"] == case_id), **kw)

    async def closed(self, *, timeout: float = 5.0) -> int | None:
        """Read (and keep) frames until the server closes the socket; its close code."""
        async def read() -> int | None:
            while True:
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.seen.append(json.loads(msg.data))
                    continue
                if msg.type == aiohttp.WSMsgType.CLOSE:
                    return int(msg.data)  # the code the server sent (what a browser reports)
                assert msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED), msg
                return self.ws.close_code
        return await asyncio.wait_for(read(), timeout)

    async def watch(self, case_id: str | None) -> None:
        await self.ws.send_json({"type": "watch", "case_id": case_id})

    async def close(self) -> None:
        await self.ws.close()


AgentFactory = Callable[..., Awaitable[AgentClient]]


@pytest.fixture
async def agent_client(gateway: Gateway) -> AsyncIterator[AgentFactory]:
    """agent_client(email) -> a signed-in AgentClient; agent_client() -> an anonymous one."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(email: str | None = None) -> AgentClient:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        client = AgentClient(gateway, http)
        if email is not None:
            status, body = await client.login(email)
            assert status == 200, body
        return client

    yield make
    for http in sessions:
        await http.close()


@pytest.fixture
async def ana(agent_client: AgentFactory) -> AgentClient:
    return await agent_client(ANA)


@pytest.fixture
async def bo(agent_client: AgentFactory) -> AgentClient:
    return await agent_client(BO)


# --- customers and cases -------------------------------------------------------------------
@dataclass
class Customer:
    chat: ChatClient
    conversation_id: str


@pytest.fixture
async def customer(gateway: Gateway) -> AsyncIterator[Callable[[], Awaitable[Customer]]]:
    """customer() -> a web chat visitor who has said one thing to the bot."""
    sessions: list[aiohttp.ClientSession] = []

    async def make() -> Customer:
        http = aiohttp.ClientSession()
        sessions.append(http)
        chat = ChatClient(await http.ws_connect(f"{gateway.url}/webchat/ws"))
        await chat.hello()
        replies = await chat.turn("my parcel has not arrived")
        assert replies[0]["role"] == "bot"
        cid = await gateway.stores.sessions.get(chat.session or "")
        assert cid is not None
        return Customer(chat=chat, conversation_id=cid)

    yield make
    for http in sessions:
        await http.close()


def a_package(conversation_id: str, *, trigger: str = "customer_request") -> dict[str, Any]:
    events = [
        {"event": "user", "text": "my parcel has not arrived", "timestamp": 1.0,
         "parse_data": {"intent": {"name": "order_status", "confidence": 0.93}}},
        {"event": "bot", "text": "What's your order number?", "timestamp": 2.0},
        {"event": "user", "text": "NW-10442", "timestamp": 3.0,
         "parse_data": {"intent": {"name": "inform", "confidence": 0.88}}},
        {"event": "bot", "text": "Order NW-10442 shipped on Monday.", "timestamp": 4.0},
        {"event": "user", "text": "this is useless, I want a person", "timestamp": 5.0,
         "parse_data": {"intent": {"name": "human_handoff", "confidence": 0.97}}},
    ]
    return build_package(
        conversation_id=conversation_id, channel="web", customer_id=conversation_id,
        events=events, slots={"order_id": "NW-10442"},
        steps_tried=["looked up order NW-10442: shipped, in transit"],
        trigger_kind=trigger, trigger_detail="asked for a person")


async def open_case(gateway: Gateway, conversation_id: str, **kw: Any) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/handoff/v1/cases",
                             json=a_package(conversation_id, **kw),
                             headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
            body = await resp.json()
            assert resp.status == 201, body
            return str(body["case_id"])


@pytest.fixture
async def case(gateway: Gateway, customer: Callable[[], Awaitable[Customer]]
               ) -> tuple[str, Customer]:
    """A queued case whose conversation is a live web chat customer."""
    visitor = await customer()
    return await open_case(gateway, visitor.conversation_id), visitor
