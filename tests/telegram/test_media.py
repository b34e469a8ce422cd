"""Photos, voice notes, stickers, files and videos cannot be read: the customer gets a polite
reply saying so, and nothing reaches Rasa. A caption is text and is answered, plus a note."""

from __future__ import annotations

import pytest

from bot.engine import MEDIA_ONLY_REPLY, MEDIA_WITH_TEXT_NOTE
from tests.fakes.telegram_api import MEDIA
from tests.telegram.conftest import GROUP, Gateway


@pytest.mark.parametrize("kind", sorted(MEDIA))
async def test_media_gets_a_polite_text_only_reply(gateway: Gateway, kind: str) -> None:
    assert await gateway.post(gateway.updates.media(kind)) == 200
    [reply] = await gateway.replies(1)
    assert reply["text"] == MEDIA_ONLY_REPLY
    assert gateway.rasa.received == []


async def test_a_caption_is_answered_with_a_note_about_the_photo(gateway: Gateway) -> None:
    assert await gateway.post(
        gateway.updates.media("photo", caption="my parcel arrived broken")) == 200
    replies = await gateway.replies(2)
    assert [r["text"] for r in replies] == ["You said: my parcel arrived broken",
                                            MEDIA_WITH_TEXT_NOTE]


async def test_a_photo_in_a_group_is_ignored_unless_addressed(gateway: Gateway) -> None:
    updates = gateway.updates
    assert await gateway.post(updates.media("photo", chat_id=GROUP, chat_type="supergroup")) == 200
    assert await gateway.post(updates.media(
        "photo", caption="@northwind_help_bot is this damage covered?", chat_id=GROUP,
        chat_type="supergroup")) == 200
    replies = await gateway.replies(2, chat_id=GROUP)
    await gateway.settle()
    assert [r["text"] for r in replies] == ["You said: is this damage covered?",
                                            MEDIA_WITH_TEXT_NOTE]


async def test_service_messages_get_no_reply(gateway: Gateway) -> None:
    joined = gateway.updates.message(chat_id=GROUP, chat_type="group", new_chat_members=[
        {"id": 55, "is_bot": False, "first_name": "Sam"}])
    assert await gateway.post(joined) == 200
    await gateway.settle()
    assert gateway.api.sent() == []
