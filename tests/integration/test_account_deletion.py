"""Deleting an account from the web chat, on the whole stack (trained model, Rasa with the
project's tracker store, action server, demo backend, gateway): the code comes from the demo
outbox as it would from the customer's mailbox, and afterwards the stores themselves are read to
prove what is gone. The account is the seed's C004 (sam.rivera@example.com), which no other test
of the shared stack uses."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from actions import replies
from analytics.pseudonyms import stored_key
from analytics.records import Pseudonyms
from bot.engine import SECRET_PLACEHOLDER
from bot.stack import Stack
from channels.webchat import CLOSE_ERASED
from tests.chat_client import ChatClient
from tests.integration.conftest import OpenChat

pytestmark = pytest.mark.integration

EMAIL = "sam.rivera@example.com"
NO_ACCOUNT = "nobody.at.all@example.com"


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, args).fetchall()


async def backend(stack: Stack, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{stack.ports.backend}{path}"
    headers = {"Authorization": f"Bearer {stack.backend_token}"}
    async with aiohttp.ClientSession() as http, http.request(method, url, headers=headers,
                                                            **kw) as resp:
        return resp.status, await resp.json()


async def code_in_mailbox(stack: Stack, email: str) -> str:
    """The newest account-deletion code e-mailed to `email`, read as its owner would."""
    status, body = await backend(stack, "GET", "/v1/_demo/outbox", params={"email": email})
    assert status == 200, body
    codes = [m["code"] for m in body["messages"] if m["kind"] == "account_deletion"]
    assert codes, body
    return str(codes[-1])


def conversation_of(stack: Stack, session: str) -> str:
    found = rows(stack.state_dir / "gateway.db", "SELECT value FROM sessions WHERE token = ?",
                 session)
    assert found, "the web chat session is not in the gateway's store"
    return str(found[0][0])


def tracker_rows(stack: Stack, sender_id: str) -> list[tuple[Any, ...]]:
    return rows(stack.state_dir / "rasa-tracker.db",
                "SELECT data FROM helpdesk_tracker_events WHERE sender_id = ?", sender_id)


def analytics_rows(stack: Stack, conversation_id: str) -> list[tuple[Any, ...]]:
    pseudonym = Pseudonyms(stored_key(stack.state_dir / "analytics.key").encode()).of(
        conversation_id)
    return rows(stack.state_dir / "analytics.db",
                "SELECT kind, text FROM analytics_events WHERE conversation = ?", pseudonym)


@dataclass(frozen=True)
class Deletion:
    conversation_id: str
    code: str
    asked: list[str]           # what the bot said to "delete my account"
    code_request: list[str]    # ... to the e-mail address
    confirmation: list[str]    # ... to the code
    close_code: int | None     # how the gateway closed the tab afterwards
    tracker_rows_before: int   # Rasa's tracker held the conversation before the erasure
    analytics_rows_before: int  # and the analytics database


async def _delete_account(stack: Stack) -> Deletion:
    async with aiohttp.ClientSession() as http:
        chat = ChatClient(await http.ws_connect(f"{stack.gateway_url}/webchat/ws"))
        await chat.hello()
        assert chat.session is not None
        asked = texts(await chat.turn("I would like to delete my account please"))
        conversation_id = conversation_of(stack, chat.session)
        code_request = texts(await chat.turn(EMAIL))
        code = await code_in_mailbox(stack, EMAIL)
        before = len(tracker_rows(stack, conversation_id))
        analytics_before = len(analytics_rows(stack, conversation_id))
        confirmation = texts(await chat.turn(code))
        with pytest.raises(ConnectionError):  # raised once the gateway has closed the tab
            await chat.take(lambda frame: False, timeout=30)
        return Deletion(conversation_id=conversation_id, code=code, asked=asked,
                        code_request=code_request, confirmation=confirmation,
                        close_code=chat.close_code, tracker_rows_before=before,
                        analytics_rows_before=analytics_before)


@pytest.fixture(scope="module")
def deletion(stack: Stack) -> Iterator[Deletion]:
    """Sam deletes their account over the web chat, once for every test of this module."""
    yield asyncio.run(_delete_account(stack))


# --- the conversation -------------------------------------------------------------------------


def test_the_bot_explains_what_will_be_deleted_and_asks_for_the_email(
        deletion: Deletion) -> None:
    assert replies.DELETION_EXPLAINED in deletion.asked
    assert "email address on your account" in deletion.asked[-1]


def test_the_bot_says_a_code_was_sent_and_asks_for_it(deletion: Deletion) -> None:
    assert deletion.code_request == [replies.DELETION_CODE_SENT, replies.DELETION_ASK_CODE]


def test_the_right_code_gets_the_confirmation(deletion: Deletion) -> None:
    assert deletion.confirmation == [replies.DELETION_DONE]


def test_the_web_chat_tab_starts_over(deletion: Deletion) -> None:
    assert deletion.close_code == CLOSE_ERASED


async def test_the_account_is_gone_from_the_identity_service(
        deletion: Deletion, stack: Stack) -> None:
    status, body = await backend(stack, "GET", "/v1/customers/lookup", params={"contact": EMAIL})
    assert (status, body["error"]) == (404, "customer_not_found")


# --- what the stores hold afterwards ----------------------------------------------------------


def test_rasa_s_tracker_store_has_no_event_of_the_conversation(
        deletion: Deletion, stack: Stack) -> None:
    assert deletion.tracker_rows_before > 0
    assert tracker_rows(stack, deletion.conversation_id) == []
    assert rows(stack.state_dir / "rasa-tracker.db",
                "SELECT * FROM helpdesk_tracker_conversations WHERE sender_id = ?",
                deletion.conversation_id) == []


def test_analytics_keep_no_event_of_the_conversation(deletion: Deletion, stack: Stack) -> None:
    assert deletion.analytics_rows_before > 0
    assert analytics_rows(stack, deletion.conversation_id) == []


@pytest.mark.parametrize("table", ["transcript", "conversations", "cases", "journal"])
def test_the_gateway_keeps_nothing_of_the_conversation(deletion: Deletion, stack: Stack,
                                                       table: str) -> None:
    assert rows(stack.state_dir / "gateway.db",
                f"SELECT * FROM {table} WHERE conversation_id = ?",
                deletion.conversation_id) == []


def test_the_gateway_keeps_no_web_chat_session_of_it(deletion: Deletion, stack: Stack) -> None:
    assert rows(stack.state_dir / "gateway.db", "SELECT * FROM sessions WHERE value = ?",
                deletion.conversation_id) == []


def test_the_audit_log_records_the_erasure_without_the_conversation(
        deletion: Deletion, stack: Stack) -> None:
    entries = [json.loads(entry) for (entry,) in rows(stack.state_dir / "gateway.db",
                                                       "SELECT entry FROM audit")]
    erasures = [e for e in entries if e["action"] == "erasure"]
    assert len(erasures) == 1
    recorded = json.dumps(erasures[0])
    for secret in (deletion.conversation_id.split(":", 1)[1], EMAIL, deletion.code):
        assert secret not in recorded


def test_no_log_file_contains_the_code(deletion: Deletion, stack: Stack) -> None:
    code = re.compile(rf"(?<!\d){deletion.code}(?!\d)")
    logs = sorted((stack.state_dir / "logs").glob("*.log"))
    assert logs
    for log in logs:
        assert not code.search(log.read_text(errors="replace")), log.name


# --- a wrong code -----------------------------------------------------------------------------


async def test_two_wrong_codes_delete_nothing_and_offer_a_person(
        open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    await chat.turn("please delete my account")
    assert texts(await chat.turn(NO_ACCOUNT)) == [replies.DELETION_CODE_SENT,
                                                  replies.DELETION_ASK_CODE]

    first = texts(await chat.turn("314159"))
    second = await chat.turn("271828")

    assert first == [replies.DELETION_CODE_WRONG, replies.DELETION_ASK_CODE]
    assert texts(second) == [replies.DELETION_CODE_FAILED]
    assert second[0]["buttons"][0]["payload"] == "/human_handoff"


async def test_typed_codes_are_kept_out_of_the_transcript_and_the_tracker(
        open_chat: OpenChat, stack: Stack) -> None:
    chat = await open_chat()
    await chat.turn("i want my account deleted")
    await chat.turn(NO_ACCOUNT)
    await chat.turn("161803")
    assert chat.session is not None
    conversation_id = conversation_of(stack, chat.session)

    transcript = [json.loads(entry) for (entry,) in rows(
        stack.state_dir / "gateway.db",
        "SELECT entry FROM transcript WHERE conversation_id = ?", conversation_id)]
    events = json.dumps(tracker_rows(stack, conversation_id))

    assert [e["text"] for e in transcript if e["role"] == "customer"][-1] == SECRET_PLACEHOLDER
    assert "161803" not in json.dumps(transcript)
    assert "161803" not in events
    assert "[redacted]" in events
