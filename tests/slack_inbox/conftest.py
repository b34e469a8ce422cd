"""Slack inbox fixtures: the real gateway app with the Slack channel and the inbox on, the fake
Slack (Web API, signed events and button presses), a fake Rasa, and web chat customers whose
conversations are handed off by posting a context package to /handoff/v1/cases."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from bot.handoff_package import build_package
from bot.app import DESK_KEY, ENGINE_KEY
from bot.cases import CaseDesk
from bot.engine import ConversationEngine
from bot.state import Case as StoredCase
from bot.stores import Stores, memory_stores
from inbox.slack_inbox import SLACK_INBOX_KEY, SlackInbox
from tests.chat_client import ChatClient
from tests.conftest import Serve
from tests.fakes.rasa import FakeRasa
from tests.gateways import HANDOFF_SECRET, start_gateway
from tests.fakes.slack_api import (SIGNING_SECRET, TOKEN, ApiCall, FakeSlackApi, Signature,
                                   SlackSender, channel_message)

INBOX = "CINBOX"
AGENT = "UAGENT1"
AGENT_2 = "UAGENT2"
OUTSIDER = "UOUTSIDER"  # in the workspace, not in the inbox channel


def inbox_env(api_url: str, **overrides: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url, "SLACK_INBOX_CHANNEL": INBOX,
            "SEND_RETRY_BASE_DELAY_S": "0.01", **overrides}


def a_package(conversation_id: str) -> dict[str, Any]:
    events = [
        {"event": "user", "text": "where is my order A-1001", "timestamp": 1.0,
         "parse_data": {"intent": {"name": "order_status", "confidence": 0.93}}},
        {"event": "bot", "text": "It shipped yesterday.", "timestamp": 2.0},
        {"event": "user", "text": "it is not here, this is useless", "timestamp": 3.0,
         "parse_data": {"intent": {"name": "complaint", "confidence": 0.71}}},
        {"event": "user", "text": "agent", "timestamp": 4.0,
         "parse_data": {"intent": {"name": "human_handoff", "confidence": 1.0}}},
    ]
    return build_package(
        conversation_id=conversation_id, channel="web", customer_id=conversation_id,
        events=events, slots={"order_id": "A-1001", "order_contact": "jane.doe@example.com"},
        steps_tried=["looked up order A-1001"], trigger_kind="customer_request",
        trigger_detail="asked for a person")


@dataclass
class Case:
    case_id: str
    conversation_id: str
    chat: ChatClient
    parent: ApiCall  # the chat.postMessage that created the case's parent message

    @property
    def ts(self) -> str:
        return str(self.parent.result["ts"])


@dataclass
class InboxGateway:
    url: str
    app: web.Application
    engine: ConversationEngine
    desk: CaseDesk
    inbox: SlackInbox
    stores: Stores
    rasa: FakeRasa
    slack: FakeSlackApi
    events: SlackSender
    http: aiohttp.ClientSession
    shutdown: Callable[[], Awaitable[None]]
    chats: list[ChatClient] = field(default_factory=list)

    async def stop(self) -> None:
        """Shut this instance down (its customers' tabs disconnect first, as on a restart)."""
        for chat in self.chats:
            await chat.ws.close()
        await self.shutdown()

    async def chat(self, session: str | None = None) -> ChatClient:
        """A web chat customer (a new conversation, or `session` resumed)."""
        ws = await self.http.ws_connect(f"{self.url}/webchat/ws")
        client = ChatClient(ws)
        self.chats.append(client)
        await client.hello(session)
        return client

    async def open_case(self) -> Case:
        """A web chat customer whose conversation is handed off; waits for the parent message."""
        chat = await self.chat()
        conversation_id = await self.stores.sessions.get(chat.session or "")
        assert conversation_id is not None
        before = len(self.parents())
        async with self.http.post(f"{self.url}/handoff/v1/cases",
                                  json=a_package(conversation_id),
                                  headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
            assert resp.status == 201, await resp.text()
            receipt = await resp.json()
        await self.until(lambda: len(self.parents()) > before)
        await self.inbox.idle()  # and the inbox has stored the parent's ts on the case
        return Case(receipt["case_id"], conversation_id, chat, self.parents()[-1])

    def parents(self) -> list[ApiCall]:
        """Successful top-level posts in the inbox channel: the case parent messages."""
        return [c for c in self.slack.attempts("chat.postMessage")
                if c.ok and c.body.get("channel") == INBOX and not c.body.get("thread_ts")]

    def thread(self, case: Case) -> list[str]:
        """Texts posted into a case's thread, in order."""
        return [c.body["text"] for c in self.slack.attempts("chat.postMessage")
                if c.ok and c.body.get("thread_ts") == case.ts]

    def latest(self, case: Case) -> ApiCall:
        """The parent message as it is now (its last successful update, else the post)."""
        updates = [c for c in self.slack.attempts("chat.update")
                   if c.ok and c.body["ts"] == case.ts]
        return updates[-1] if updates else case.parent

    async def press(self, message: ApiCall, title: str, user: str = AGENT, *,
                    signature: Signature = "valid") -> int:
        """Press a button of a parent message (as it was posted or last updated) by its title."""
        actions = next(b for b in message.result["message"]["blocks"] if b["type"] == "actions")
        titles = [e["text"]["text"] for e in actions["elements"]]
        status = await self.events.press(message, titles.index(title), user=user,
                                         signature=signature)
        await self.inbox.idle()  # Slack got its answer at once; the inbox acts right after
        return status

    async def reply(self, case: Case, text: str, user: str = AGENT, *,
                    signature: Signature = "valid", **extra: Any) -> dict[str, Any]:
        """An agent writes in the case's thread (and the inbox acts on it); returns the event."""
        event = channel_message(text, channel=INBOX, user=user, thread_ts=case.ts, **extra)
        status = await self.events.send(event, signature=signature)
        assert status == (200 if signature == "valid" else 401)
        await self.inbox.idle()
        return event

    async def settle(self) -> None:
        """Wait until the inbox's Slack work and the engine's turns are done."""
        for _ in range(3):
            await self.engine.idle()
            await self.inbox.idle()
            await asyncio.sleep(0.02)

    async def until(self, condition: Callable[[], Any], timeout_s: float = 5.0) -> None:
        async def poll() -> None:
            while not condition():
                await asyncio.sleep(0.01)
        await asyncio.wait_for(poll(), timeout_s)

    async def status(self, case: Case) -> StoredCase:
        found = await self.stores.cases.get(case.case_id)
        assert found is not None
        return found


async def messages_until(chat: ChatClient, role: str, *,
                         timeout: float = 5.0) -> list[dict[str, Any]]:
    """Message frames the customer receives, up to and including the first one with `role`."""
    frames = []
    while True:
        frame = await chat.next("message", timeout=timeout)
        frames.append(frame)
        if frame["role"] == role:
            return frames


@pytest.fixture
async def fake_slack(serve: Serve) -> tuple[FakeSlackApi, str]:
    fake = FakeSlackApi(members={INBOX: ["UBOT", AGENT, AGENT_2]})
    return fake, f"{await serve(fake.app())}/api/"


MakeGateway = Callable[..., Awaitable[InboxGateway]]


@pytest.fixture
async def make_gateway(http: aiohttp.ClientSession, fake_rasa: tuple[FakeRasa, str],
                       fake_slack: tuple[FakeSlackApi, str]) -> AsyncIterator[MakeGateway]:
    """Start a gateway instance with the inbox on; `stop()` shuts one down mid-test (a restart),
    and several may share one store."""
    gateways: list[InboxGateway] = []

    async def make(stores: Stores | None = None, *, agent_hours: str = "always",
                   presence_required: bool = False, settings: dict[str, Any] | None = None,
                   **env: str) -> InboxGateway:
        stores = stores or memory_stores()
        running = await start_gateway(fake_rasa[0], fake_rasa[1], stores=stores,
                                      env=inbox_env(fake_slack[1], **env),
                                      agent_hours=agent_hours,
                                      agent_presence_required=presence_required,
                                      **(settings or {}))
        app, url, shutdown = running.app, running.url, running.stop

        gateway = InboxGateway(url=url, app=app, engine=app[ENGINE_KEY], desk=app[DESK_KEY],
                               inbox=app[SLACK_INBOX_KEY], stores=stores, rasa=fake_rasa[0],
                               slack=fake_slack[0], events=SlackSender(http, url), http=http,
                               shutdown=shutdown)
        gateways.append(gateway)
        return gateway

    yield make
    for gateway in reversed(gateways):
        await gateway.stop()


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> InboxGateway:
    return await make_gateway()


@pytest.fixture
async def case(gateway: InboxGateway) -> Case:
    return await gateway.open_case()
