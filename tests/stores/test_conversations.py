"""Per-conversation state is typed: known fields merge, unknown ones are refused."""

from __future__ import annotations

import asyncio

import pytest

from bot.state import ConversationState
from bot.stores import Stores


async def test_unknown_conversation_has_the_default_state(stores: Stores) -> None:
    assert await stores.conversations.get("c") == ConversationState()
    assert not await stores.conversations.exists("c")


async def test_update_merges_fields(stores: Stores) -> None:
    await stores.conversations.update("c", channel="web", customer_id="web:c")
    state = await stores.conversations.update(
        "c", offered_buttons=[{"title": "Yes", "payload": "/affirm"}])
    assert state.channel == "web" and state.customer_id == "web:c"
    assert state.offered_buttons == ({"title": "Yes", "payload": "/affirm"},)
    assert await stores.conversations.get("c") == state
    assert await stores.conversations.exists("c")


async def test_peek_reads_what_get_reads(stores: Stores) -> None:
    assert await stores.conversations.peek("c") == ConversationState()
    state = await stores.conversations.update("c", channel="sms", customer_id="+15550001111")
    await stores.conversations.update_channel_data("c", {"opted_out": True})
    assert await stores.conversations.peek("c") == await stores.conversations.get("c") != state


async def test_concurrent_updates_of_different_fields_both_stay(stores: Stores) -> None:
    await asyncio.gather(stores.conversations.update("c", outage_notified=True),
                         stores.conversations.update("c", awaiting_rating="C-1"))
    state = await stores.conversations.get("c")
    assert state.outage_notified and state.awaiting_rating == "C-1"


async def test_an_unknown_field_is_refused(stores: Stores) -> None:
    with pytest.raises(TypeError):
        await stores.conversations.update("c", awaiting_ratting="C-1")


async def test_channel_data_merges_within_its_namespace(stores: Stores) -> None:
    await stores.conversations.update("c", channel="sms")
    await stores.conversations.update_channel_data("c", {"opted_out": True})
    state = await stores.conversations.update_channel_data("c", {"opted_out_at": 5.0})
    assert state.channel == "sms"
    assert state.channel_data == {"opted_out": True, "opted_out_at": 5.0}


async def test_conversation_can_be_deleted(stores: Stores) -> None:
    await stores.conversations.update("c", channel="web")
    await stores.conversations.delete("c")
    assert not await stores.conversations.exists("c")
