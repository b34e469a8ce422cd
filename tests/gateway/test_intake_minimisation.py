"""Card numbers, IBANs and passwords a customer types are replaced at intake: the journal never
records them and Rasa never receives them (README, Privacy: "collected at the minimum")."""

from __future__ import annotations

import asyncio

import pytest

from bot.messages import InboundMessage
from bot.stores import Stores
from tests.fakes.rasa import FakeRasa
from tests.gateways import start_gateway

CID = "web:careful-customer"
TYPED = [
    ("my card is 4111 1111 1111 1111 ok", "4111 1111 1111 1111", "my card is"),
    ("iban DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00", "please"),
    ("my password is Hunter2!secret thanks", "Hunter2!secret", "thanks"),
]


@pytest.fixture
def stores(file_stores: Stores) -> Stores:
    return file_stores


def message(text: str) -> InboundMessage:
    return InboundMessage(channel="web", conversation_id=CID, customer_id=CID, text=text,
                          platform_message_id=f"{CID}:1", received_at=1.0)


@pytest.mark.parametrize(("typed", "secret", "kept"), TYPED)
async def test_the_journal_never_records_it(fake_rasa: tuple[FakeRasa, str], stores: Stores,
                                            typed: str, secret: str, kept: str) -> None:
    rasa, url = fake_rasa
    rasa.down = True  # the message stays in the journal
    gateway = await start_gateway(rasa, url, stores=stores)
    assert await gateway.engine.accept(message(typed))
    [entry] = await stores.journal.entries(CID)
    assert secret not in entry.message.text
    assert kept in entry.message.text
    await gateway.stop()


@pytest.mark.parametrize(("typed", "secret", "kept"), TYPED)
async def test_rasa_never_receives_it(fake_rasa: tuple[FakeRasa, str], stores: Stores,
                                      typed: str, secret: str, kept: str) -> None:
    rasa, url = fake_rasa
    gateway = await start_gateway(rasa, url, stores=stores)
    assert await gateway.engine.accept(message(typed))
    async with asyncio.timeout(5):
        while not rasa.texts():
            await asyncio.sleep(0.01)
    [sent] = rasa.texts()
    assert secret not in sent
    assert kept in sent
    await gateway.stop()
