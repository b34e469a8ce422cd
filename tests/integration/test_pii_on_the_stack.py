"""On the real stack: a customer types a card number, a password and a one-time code (and
contacts), looks an order up and asks for a person. Afterwards no file the stack wrote (every
process's log, the gateway's database, Rasa's tracker store, the demo backend's database) holds
the card number or the password, nor the code outside the gateway's write-ahead log; the contacts
appear in no log and not in the gateway's database (Rasa's tracker keeps them while the
conversation's session runs, masked after it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.stack import Stack
from tests.integration.conftest import OpenChat

pytestmark = pytest.mark.integration

SECRETS = ["4111 1111 1111 1111", "4111111111111111", "Tr0ub4dor&3-horse"]
# A one-time code is taken in (the deletion flow needs it) and kept out of every record; the
# gateway's journal held it until it was answered, and SQLite's write-ahead log may keep the
# freed page until it is overwritten (docs/threat-model.md).
CODE = "582046"
CONTACTS = ["alice.walker@example.net", "7700 900456"]


def files(state_dir: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in state_dir.rglob("*") if p.is_file()}


def containing(found: dict[Path, bytes], text: str) -> list[str]:
    return [p.name for p, data in found.items() if text.encode() in data]


async def test_secrets_reach_no_file_and_contacts_no_log(open_chat: OpenChat,
                                                         stack: Stack) -> None:
    chat = await open_chat()
    for text in ("hi, my card is 4111 1111 1111 1111 and it was declined",
                 "my password is Tr0ub4dor&3-horse if that helps",
                 "the code is 582046",
                 "you can email me at alice.walker@example.net or call +44 7700 900456",
                 "where is my order", "482913", "jane.doe@example.com", "agent"):
        await chat.turn(text)
    written = files(stack.state_dir)
    assert {p.name for p in written} >= {"gateway.db", "rasa-tracker.db", "gateway.log",
                                         "rasa-server.log", "action-server.log"}
    for secret in SECRETS:
        assert containing(written, secret) == [], secret
    assert set(containing(written, CODE)) <= {"gateway.db-wal"}
    logs_and_gateway = {p: d for p, d in written.items() if p.suffix == ".log" or
                        p.name == "gateway.db"}
    for contact in CONTACTS + ["jane.doe@example.com"]:
        # (The journal held the message until it was answered: only the write-ahead log may
        # still have the freed page, as for the one-time code above.)
        assert containing(logs_and_gateway, contact) == [], contact
