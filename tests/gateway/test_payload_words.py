"""When Rasa's text is our payload, the customer's own words travel with it in the user event's
metadata (what agents are shown instead of the payload); never on a turn that answers a secret
question, whose words are kept out of every record."""

from __future__ import annotations

import pytest

from bot.messages import InboundMessage
from tests.gateway.conftest import Gateway

CID = "web:payload-words"
OFFERED = [{"title": "Track my order", "payload": "/order_status"}]


def tap() -> InboundMessage:
    return InboundMessage(channel="web", conversation_id=CID, customer_id=CID,
                          text="Track my order", platform_message_id=f"{CID}:1",
                          received_at=1.0, button_payload="/order_status")


@pytest.mark.parametrize(("secret", "words"), [(False, "Track my order"), (True, None)])
async def test_the_customers_words_ride_with_a_payload_except_on_a_secret_turn(
        gateway: Gateway, secret: bool, words: str | None) -> None:
    await gateway.stores.conversations.update(CID, channel="web", customer_id=CID,
                                              offered_buttons=OFFERED, expects_secret=secret)
    assert await gateway.engine.accept(tap())
    await gateway.engine.idle()
    [sent] = [r for r in gateway.rasa.received if r["sender"] == CID]
    assert sent["message"] == "/order_status"
    assert sent["metadata"].get("customer_text") == words
