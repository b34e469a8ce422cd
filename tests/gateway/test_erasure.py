"""The gateway's side of the account deletion flow, against a fake Rasa that answers with the
action server's directives (bot/directives.py):

- after EXPECT_SECRET the customer's next message (a one-time code) is kept out of the
  transcript, the console's views and the gateway's logs;
- after ERASE_CONVERSATION nothing of the conversation is left in the stores or in Rasa's tracker
  storage, the audit log says that an erasure happened (and nothing else), the web chat tab is
  closed with 4000 and starts over, and the agent console drops the conversation's case.

The tests where the store implementation matters run on the in-process stores and on the real
Redis."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cases import CaseDesk
from bot.engine import SECRET_PLACEHOLDER, dedupe_key
from bot.erasure import Erasure
from bot.messages import InboundMessage
from bot.stores import Stores, memory_stores, redis_stores
from bot.tracker_storage import SqlTrackerStorage
from channels.webchat import CLOSE_ERASED
from tests.chat_client import ChatClient, Frame
from tests.conftest import REDIS_URL, Serve
from tests.console.conftest import AGENT_ACCOUNTS, ANA, ANA_PASSWORD, AgentSocket
from tests.fakes.rasa import FakeRasa, Reply
from tests.gateways import Running, start_gateway

JANE = "jane.doe@example.com"
CODE = "246810"   # the right code: the account is deleted
WRONG = "135791"  # a wrong code
OTHER_CONVERSATION = "web:someone-else"
HANDOFF = {"title": "Talk to a person", "payload": "/human_handoff"}
BOTH_STORES = pytest.mark.parametrize("stores", ["memory", "redis"], indirect=True)


def action_server(text: str) -> Reply:
    """What Rasa answers with the deletion flow's actions behind it."""
    if text == "delete my account":
        return [{"text": "What's the email address on your account?"}]
    if text == JANE:
        return [{"text": "Please type the code here."}, {"custom": {"gateway": "expect_secret"}}]
    if text == CODE:
        return [{"text": "Done: your account is deleted."},
                {"custom": {"gateway": "erase_conversation"}}]
    if text == WRONG:
        return [{"text": "That code didn't work. Would you like a person?", "buttons": [HANDOFF]}]
    return [{"text": f"You said: {text}"}]


class TrackerStoreLikeRasa(FakeRasa):
    """The fake Rasa, keeping the answer to a secret question the way the project's tracker store
    keeps it ("[redacted]", bot/rasa_tracker_store.py), so what the handoff action packages from
    the tracker is what it packages in production."""

    def _record(self, cid: str, event: dict[str, Any]) -> None:
        # The message right after the bot's EXPECT_SECRET (the last event of its turn).
        last = (self.trackers.get(cid) or [{}])[-1]
        if event.get("event") == "user" and (last.get("data") or {}).get("custom") == {
                "gateway": "expect_secret"}:
            event = {**event, "text": "[redacted]", "parse_data": {}}
        super()._record(cid, event)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
async def stores(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Stores]:
    """In-process stores; BOTH_STORES runs a test on the real Redis as well, where the store
    implementation (deletes, the bus that carries the confirmation and the inbox events) is
    what the test is about."""
    built = (redis_stores(REDIS_URL, prefix=redis_prefix)
             if getattr(request, "param", "memory") == "redis" else memory_stores())
    yield built
    await built.close()


@pytest.fixture
def tracker(tmp_path: Path) -> SqlTrackerStorage:
    """Rasa's tracker storage on a temporary SQLite file (the gateway closes it at shutdown)."""
    return SqlTrackerStorage(f"sqlite:///{tmp_path / 'rasa-tracker.db'}")


@dataclass
class Erasing:
    url: str
    running: Running
    rasa: TrackerStoreLikeRasa
    tracker: SqlTrackerStorage

    @property
    def stores(self) -> Stores:
        return self.running.stores

    async def idle(self) -> None:
        """Every message handled, directives included (the erasure runs after the reply)."""
        await self.running.engine.idle()


@pytest.fixture
async def gateway(serve: Serve, stores: Stores, tracker: SqlTrackerStorage,
                  ) -> AsyncIterator[Erasing]:
    rasa = TrackerStoreLikeRasa(replies=action_server)
    rasa_url = await serve(rasa.app())
    running = await start_gateway(rasa, rasa_url, stores=stores, tracker=tracker,
                                  env={"AGENT_ACCOUNTS": AGENT_ACCOUNTS})
    yield Erasing(url=running.url, running=running, rasa=rasa, tracker=tracker)
    await running.stop()


@dataclass
class Customer:
    chat: ChatClient
    conversation_id: str
    session: str


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
async def customer(gateway: Erasing, http: aiohttp.ClientSession,
                   ) -> Callable[[], Awaitable[Customer]]:
    """customer() -> a new web chat visitor whose conversation Rasa's tracker already holds."""
    async def arrive() -> Customer:
        chat = ChatClient(await http.ws_connect(f"{gateway.url}/webchat/ws"))
        await chat.hello()
        assert chat.session is not None
        conversation_id = await gateway.stores.sessions.get(chat.session)
        assert conversation_id is not None
        await gateway.tracker.append(conversation_id, tracker_events("hello"))
        return Customer(chat=chat, conversation_id=conversation_id, session=chat.session)

    return arrive


@pytest.fixture
async def other_conversation(tracker: SqlTrackerStorage) -> str:
    """Someone else's conversation in Rasa's tracker storage: an erasure must leave it alone."""
    await tracker.append(OTHER_CONVERSATION, tracker_events("where is my parcel"))
    return OTHER_CONVERSATION


def tracker_events(text: str) -> list[dict[str, Any]]:
    return [{"event": "action", "name": "action_session_start", "timestamp": 1.0},
            {"event": "session_started", "timestamp": 1.0},
            {"event": "user", "text": text, "timestamp": 2.0, "metadata": {}},
            {"event": "bot", "text": f"You said: {text}", "timestamp": 3.0}]


async def asked_for_the_code(chat: ChatClient) -> None:
    await chat.turn("delete my account")
    replies = await chat.turn(JANE)
    assert texts(replies) == ["Please type the code here."]  # the directive is not shown


async def deleted(gateway: Erasing, chat: ChatClient) -> list[Frame]:
    """The customer asks, gives the address and the right code; returns the last turn's replies
    once the gateway has done everything (the erasure included)."""
    await asked_for_the_code(chat)
    replies = await chat.turn(CODE)
    await gateway.idle()
    return replies


def texts(frames: list[Frame]) -> list[str]:
    return [f["text"] for f in frames]


async def signed_in_agent(gateway: Erasing, http: aiohttp.ClientSession) -> AgentSocket:
    async with http.post(f"{gateway.url}/console/api/login",
                         json={"email": ANA, "password": ANA_PASSWORD},
                         headers={"Origin": gateway.url}) as resp:
        assert resp.status == 200, await resp.text()
    socket = AgentSocket(await http.ws_connect(f"{gateway.url}/console/ws"))
    await socket.next("hello")
    return socket


async def console(http: aiohttp.ClientSession, gateway: Erasing, method: str, path: str,
                  ) -> tuple[int, Any]:
    async with http.request(method, f"{gateway.url}/console/api{path}",
                            headers={"Origin": gateway.url},
                            json={} if method == "POST" else None) as resp:
        return resp.status, await resp.json()


async def case_returned_to_the_bot(gateway: Erasing, http: aiohttp.ClientSession,
                                   agent: AgentSocket, chat: ChatClient) -> str:
    """The customer talked to a person, who handed them back to the bot: the conversation has a
    (closed) case that the agent can still open in the console."""
    await chat.turn("agent")
    opened = await agent.event("opened")
    case_id = str(opened["case_id"])
    assert (await console(http, gateway, "POST", f"/cases/{case_id}/claim"))[0] == 200
    assert "joined" in texts(await chat.replies())[0]
    assert (await console(http, gateway, "POST", f"/cases/{case_id}/return"))[0] == 200
    assert "back with the automated assistant" in texts(await chat.replies())[0]
    return case_id


async def cases_of(stores: Stores, conversation_id: str) -> list[Any]:
    return [c for c in await stores.cases.recent(limit=100)
            if c.conversation_id == conversation_id]


# --- EXPECT_SECRET: the code is shown to nobody -----------------------------------------------


async def test_the_code_is_recorded_as_a_placeholder_in_the_transcript(
        gateway: Erasing, customer: Callable[[], Awaitable[Customer]]) -> None:
    visitor = await customer()
    await asked_for_the_code(visitor.chat)

    await visitor.chat.turn(WRONG)

    transcript = await gateway.stores.transcripts.recent(visitor.conversation_id, limit=100)
    customer_lines = [e["text"] for e in transcript if e["role"] == "customer"]
    assert customer_lines[-1] == SECRET_PLACEHOLDER
    assert WRONG not in json.dumps(transcript)


async def test_only_the_message_after_the_question_is_secret(
        gateway: Erasing, customer: Callable[[], Awaitable[Customer]]) -> None:
    visitor = await customer()
    await asked_for_the_code(visitor.chat)
    await visitor.chat.turn(WRONG)

    await visitor.chat.turn("still here")

    transcript = await gateway.stores.transcripts.recent(visitor.conversation_id, limit=100)
    assert [e["text"] for e in transcript if e["role"] == "customer"][-1] == "still here"


async def test_the_code_still_reaches_rasa(gateway: Erasing,
                                           customer: Callable[[], Awaitable[Customer]]) -> None:
    # The action server needs it to check it; Rasa's tracker store keeps only "[redacted]".
    visitor = await customer()
    await asked_for_the_code(visitor.chat)

    await visitor.chat.turn(WRONG)

    assert gateway.rasa.texts_of(visitor.conversation_id)[-1] == WRONG


async def test_the_code_is_in_no_console_view(gateway: Erasing, http: aiohttp.ClientSession,
                                              customer: Callable[[], Awaitable[Customer]]
                                              ) -> None:
    agent = await signed_in_agent(gateway, http)
    visitor = await customer()
    await asked_for_the_code(visitor.chat)
    await visitor.chat.turn(WRONG)

    await visitor.chat.tap(HANDOFF["title"], HANDOFF["payload"])
    case_id = str((await agent.event("opened"))["case_id"])
    await agent.watch(case_id)
    await agent.next("transcript", where=lambda f: f["case_id"] == case_id)
    status, detail = await console(http, gateway, "GET", f"/cases/{case_id}")

    assert status == 200
    assert SECRET_PLACEHOLDER in [e["text"] for e in detail["transcript"]]
    assert WRONG not in json.dumps(detail)
    assert WRONG not in json.dumps(agent.seen)


async def test_the_code_is_in_no_log_line(gateway: Erasing, caplog: pytest.LogCaptureFixture,
                                          customer: Callable[[], Awaitable[Customer]]) -> None:
    caplog.set_level(logging.DEBUG)
    visitor = await customer()
    await asked_for_the_code(visitor.chat)
    await visitor.chat.turn(WRONG)
    await visitor.chat.turn(JANE)  # asked for a code again

    await visitor.chat.turn(CODE)
    await gateway.idle()

    assert "erased the data of" in caplog.text  # the erasure itself is logged
    assert WRONG not in caplog.text
    assert CODE not in caplog.text


# --- ERASE_CONVERSATION: nothing of the conversation is left ----------------------------------


@BOTH_STORES
async def test_the_customer_reads_the_confirmation_before_the_chat_is_erased(
        gateway: Erasing, customer: Callable[[], Awaitable[Customer]]) -> None:
    visitor = await customer()

    replies = await deleted(gateway, visitor.chat)

    assert texts(replies) == ["Done: your account is deleted."]


@BOTH_STORES
async def test_the_gateway_keeps_no_state_transcript_or_session_of_it(
        gateway: Erasing, customer: Callable[[], Awaitable[Customer]]) -> None:
    visitor = await customer()

    await deleted(gateway, visitor.chat)

    stores, cid = gateway.stores, visitor.conversation_id
    assert not await stores.conversations.exists(cid)
    assert await stores.transcripts.recent(cid, limit=100) == []
    assert await stores.sessions.get(visitor.session) is None


@BOTH_STORES
async def test_the_conversation_s_cases_are_deleted(
        gateway: Erasing, http: aiohttp.ClientSession,
        customer: Callable[[], Awaitable[Customer]]) -> None:
    agent = await signed_in_agent(gateway, http)
    visitor = await customer()
    case_id = await case_returned_to_the_bot(gateway, http, agent, visitor.chat)

    await deleted(gateway, visitor.chat)

    assert await gateway.stores.cases.get(case_id) is None
    assert await cases_of(gateway.stores, visitor.conversation_id) == []


@BOTH_STORES
async def test_the_intake_journal_keeps_no_pending_message_of_it(stores: Stores) -> None:
    # The message being answered (the code, as typed) is in the journal until the engine has
    # finished the turn that erases the conversation.
    message = InboundMessage(channel="web", conversation_id="web:erased", customer_id="web:erased",
                             text=CODE, platform_message_id="web:erased:1", received_at=1.0)
    await stores.journal.append(message, dedupe_key=dedupe_key(message))

    await Erasure(stores, CaseDesk(stores), tracker=None).erase("web:erased")

    assert await stores.journal.entries("web:erased") == []


async def test_rasa_s_tracker_storage_holds_no_event_of_it(
        gateway: Erasing, other_conversation: str,
        customer: Callable[[], Awaitable[Customer]]) -> None:
    visitor = await customer()

    await deleted(gateway, visitor.chat)

    assert await gateway.tracker.all_events(visitor.conversation_id) == []
    assert visitor.conversation_id not in await gateway.tracker.senders()


async def test_other_conversations_are_left_alone(
        gateway: Erasing, other_conversation: str,
        customer: Callable[[], Awaitable[Customer]]) -> None:
    bystander = await customer()
    await bystander.chat.turn("hello")
    visitor = await customer()

    await deleted(gateway, visitor.chat)

    assert len(await gateway.tracker.all_events(other_conversation)) == 4
    assert await gateway.stores.conversations.exists(bystander.conversation_id)
    assert await gateway.stores.transcripts.recent(bystander.conversation_id, limit=10)


async def test_the_audit_log_records_one_erasure_and_nothing_of_the_conversation(
        gateway: Erasing, customer: Callable[[], Awaitable[Customer]]) -> None:
    visitor = await customer()

    await deleted(gateway, visitor.chat)

    erasures = [e for e in await gateway.stores.audit.recent(limit=100)
                if e["action"] == "erasure"]
    assert len(erasures) == 1
    recorded = json.dumps(erasures[0])
    conversation_uuid = visitor.conversation_id.split(":", 1)[1]
    for secret in (conversation_uuid, visitor.session, "delete my account", JANE, CODE):
        assert secret not in recorded
    assert erasures[0]["detail"]["channel"] == "web"


async def test_the_web_chat_tab_is_closed_with_the_erased_code(
        gateway: Erasing, customer: Callable[[], Awaitable[Customer]]) -> None:
    visitor = await customer()

    await deleted(gateway, visitor.chat)

    with pytest.raises(ConnectionError):  # raised once the socket is closed
        await visitor.chat.take(lambda frame: False)
    assert visitor.chat.close_code == CLOSE_ERASED == 4000


@pytest.mark.parametrize("resume", [True, False], ids=["old-session", "no-session"])
async def test_a_new_hello_starts_a_fresh_conversation(
        gateway: Erasing, http: aiohttp.ClientSession, resume: bool,
        customer: Callable[[], Awaitable[Customer]]) -> None:
    visitor = await customer()
    await deleted(gateway, visitor.chat)

    tab = ChatClient(await http.ws_connect(f"{gateway.url}/webchat/ws"))
    hello = await tab.hello(visitor.session if resume else None)

    assert hello["history"] == []
    assert hello["session"] != visitor.session
    assert await gateway.stores.sessions.get(hello["session"]) != visitor.conversation_id


@BOTH_STORES
async def test_the_console_drops_the_erased_case(
        gateway: Erasing, http: aiohttp.ClientSession,
        customer: Callable[[], Awaitable[Customer]]) -> None:
    agent = await signed_in_agent(gateway, http)
    visitor = await customer()
    case_id = await case_returned_to_the_bot(gateway, http, agent, visitor.chat)

    await deleted(gateway, visitor.chat)

    erased = await agent.event("erased", case_id)
    assert erased["text"] is None
    _, queue = await console(http, gateway, "GET", "/cases")
    assert case_id not in json.dumps(queue)
    assert (await console(http, gateway, "GET", f"/cases/{case_id}"))[0] == 404


def test_the_stand_in_tracker_store_redacts_only_the_answer_to_the_secret_question() -> None:
    # The console test relies on it; keep the stand-in honest.
    rasa = TrackerStoreLikeRasa()
    rasa._record("web:x", {"event": "bot", "text": None,
                           "data": {"custom": {"gateway": "expect_secret"}}})
    rasa._record("web:x", {"event": "user", "text": WRONG})
    rasa._record("web:x", {"event": "user", "text": "agent"})

    assert [e.get("text") for e in rasa.trackers["web:x"]] == [None, "[redacted]", "agent"]
