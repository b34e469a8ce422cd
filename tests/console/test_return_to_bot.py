"""Return to bot: the customer is told, and their next message is answered by Rasa again."""

from __future__ import annotations

from bot.state import CaseStatus

from tests.console.conftest import AgentClient, Customer, Gateway


async def test_return_to_bot_hands_the_conversation_back(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    await ana.post(f"/cases/{case_id}/claim")
    await visitor.chat.reply()
    await visitor.chat.send("is anyone there?")  # during the handoff: the agent's, not Rasa's
    await gateway.engine.idle()
    assert "is anyone there?" not in gateway.rasa.texts()

    status, body = await ana.post(f"/cases/{case_id}/return")
    assert status == 200 and body["case"]["status"] == "returned"
    told = await visitor.chat.reply()
    assert told["role"] == "system"
    assert "You're back with the automated assistant" in told["text"]
    assert body["transcript"][-1]["text"] == told["text"]  # the agent sees what they were told

    replies = await visitor.chat.turn("where is my order?")
    assert [r["text"] for r in replies] == ["You said: where is my order?"]
    assert gateway.rasa.texts()[-1] == "where is my order?"
    # The handoff action paused Rasa's tracker; the gateway resumed it, outside any Rasa turn.
    assert gateway.rasa.tracker_events_of(visitor.conversation_id) == ["resume"]
    assert (await gateway.stores.cases.get(case_id)).status is CaseStatus.RETURNED
    status, _ = await ana.post(f"/cases/{case_id}/return")
    assert status == 409
