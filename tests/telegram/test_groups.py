"""In a group the assistant speaks only when spoken to: a message that mentions it, or replies to
one of its messages. The mention is stripped before NLU. One conversation per chat: a whole group
is one conversation, each DM another."""

from __future__ import annotations

import pytest

from bot.engine import EMPTY_REPLY
from tests.telegram.conftest import CHAT, GROUP, Gateway, MakeGateway

IN_GROUP = {"chat_id": GROUP, "chat_type": "supergroup", "user_id": 777}


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_group_chatter_is_left_alone(gateway: Gateway, chat_type: str) -> None:
    await gateway.say("anyone know where the parcels are?", chat_id=GROUP, chat_type=chat_type)
    await gateway.say("@someone_else_bot where is my order", chat_id=GROUP, chat_type=chat_type)
    await gateway.settle()
    assert gateway.rasa.received == []
    assert gateway.api.sent() == []


@pytest.mark.parametrize("text", [
    "@northwind_help_bot where is my order",
    "where is my order @northwind_help_bot",
    "@Northwind_Help_Bot where is my order",
])
async def test_a_mention_is_answered_in_the_group_without_the_mention(gateway: Gateway,
                                                                     text: str) -> None:
    await gateway.say(text, **IN_GROUP)
    await gateway.replies(1, chat_id=GROUP)
    assert gateway.rasa.texts() == ["where is my order"]


async def test_a_bare_mention_is_asked_what_it_is_about(gateway: Gateway) -> None:
    await gateway.say("@northwind_help_bot", **IN_GROUP)
    [reply] = await gateway.replies(1, chat_id=GROUP)
    assert reply["text"] == EMPTY_REPLY
    assert gateway.rasa.received == []


async def test_a_reply_to_the_assistant_is_answered(gateway: Gateway) -> None:
    await gateway.say("482913", reply_to_bot=True, **IN_GROUP)
    [reply] = await gateway.replies(1, chat_id=GROUP)
    assert reply["text"] == "You said: 482913"


async def test_a_group_is_one_conversation_and_each_dm_another(gateway: Gateway) -> None:
    await gateway.say("@northwind_help_bot hi from Ann", chat_id=GROUP, chat_type="group",
                      user_id=1)
    await gateway.say("@northwind_help_bot hi from Bob", chat_id=GROUP, chat_type="group",
                      user_id=2)
    await gateway.say("hi in private", chat_id=CHAT, user_id=CHAT)
    await gateway.replies(2, chat_id=GROUP)
    await gateway.replies(1, chat_id=CHAT)
    conversations = {r["sender"] for r in gateway.rasa.received}
    assert conversations == {f"telegram:{GROUP}", f"telegram:{CHAT}"}
    group = await gateway.stores.transcripts.recent(f"telegram:{GROUP}", limit=10)
    assert [e["text"] for e in group if e["role"] == "customer"] == ["hi from Ann", "hi from Bob"]


async def test_the_username_comes_from_getme_unless_configured(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(env={"TELEGRAM_BOT_USERNAME": "@shop_desk_bot"})
    await gateway.say("@northwind_help_bot hello", **IN_GROUP)
    await gateway.say("@shop_desk_bot where is my order", **IN_GROUP)
    await gateway.replies(1, chat_id=GROUP)
    await gateway.settle()
    assert gateway.rasa.texts() == ["where is my order"]
