"""/start and /help are answered by the channel itself: a short welcome that says this is an
automated assistant and that "agent" reaches a person, with the main options as buttons. Other
commands go to the engine like text ("/agent" reaches a person)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.telegram.conftest import GROUP, Gateway

MENU_PAYLOADS = ["/order_status", "/password_reset", "/human_handoff"]


def payloads(sent: dict[str, Any]) -> list[str]:
    return [row[0]["callback_data"] for row in sent["reply_markup"]["inline_keyboard"]]


@pytest.mark.parametrize("command", ["/start", "/start@northwind_help_bot", "/start ref-ad42"])
async def test_start_is_welcomed_without_asking_rasa(gateway: Gateway, command: str) -> None:
    await gateway.say(command)
    [welcome] = await gateway.replies(1)
    assert "automated assistant" in welcome["text"]
    assert '"agent"' in welcome["text"]
    assert payloads(welcome) == MENU_PAYLOADS
    await gateway.settle()
    assert gateway.rasa.received == []


async def test_help_lists_what_the_assistant_can_do(gateway: Gateway) -> None:
    await gateway.say("/help")
    [answer] = await gateway.replies(1)
    for skill in ("Track an order", "Reset your password", "shipping", "returns"):
        assert skill in answer["text"]
    assert '"agent"' in answer["text"]
    assert payloads(answer) == MENU_PAYLOADS
    assert gateway.rasa.received == []


async def test_a_welcome_button_reaches_rasa_as_its_intent(gateway: Gateway) -> None:
    await gateway.say("/start")
    [welcome] = await gateway.replies(1)
    assert await gateway.post(gateway.updates.press(welcome, "/order_status")) == 200
    await gateway.replies(2)
    assert gateway.rasa.texts() == ["/order_status"]


@pytest.mark.parametrize("command", ["/agent", "/agent@northwind_help_bot"])
async def test_the_agent_command_asks_for_a_person(gateway: Gateway, command: str) -> None:
    await gateway.say(command)
    await gateway.replies(1)
    assert gateway.rasa.texts() == ["/human_handoff"]


async def test_commands_for_another_bot_are_ignored(gateway: Gateway) -> None:
    await gateway.say("/start@some_other_bot", chat_id=GROUP, chat_type="supergroup")
    await gateway.say("/help@some_other_bot")
    await gateway.settle()
    assert gateway.api.sent() == []
    assert gateway.rasa.received == []


async def test_a_redelivered_start_is_welcomed_once(gateway: Gateway) -> None:
    update = gateway.updates.message("/start")
    for _ in range(3):
        assert await gateway.post(update) == 200
    await gateway.replies(1)
    await gateway.settle()
    assert len(gateway.api.sent()) == 1
