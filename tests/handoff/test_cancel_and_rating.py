"""The customer's side of ending a handoff: "never mind" while queued cancels the case and the bot
answers again; after the agent resolves, the customer is asked for a 1-5 rating and the "5"
button stores csat=5; a message that is not a rating goes to the bot and the rating is no longer
pending."""

from __future__ import annotations

from bot.state import CaseStatus

from tests.handoff.conftest import (Agent, Gateway, MakeAgent, MakeCustomer, WebCustomer,
                                    hand_off)


async def test_never_mind_while_queued_cancels_and_the_bot_answers_again(
        gateway: Gateway, make_customer: MakeCustomer, make_agent: MakeAgent) -> None:
    customer = await make_customer(gateway)
    cid = customer.conversation_id
    case = await hand_off(customer)
    assert case.status is CaseStatus.QUEUED
    agent = await make_agent(gateway)
    socket = await agent.socket()

    await customer.say("Never mind!")
    told = await customer.expect("I've cancelled the request")
    assert "back with the automated assistant" in told.text
    cancelled = await socket.event("cancelled", case.case_id)
    assert cancelled["actor"] == "customer"
    stored = await gateway.stores.cases.get(case.case_id)
    assert stored.status is CaseStatus.CANCELLED
    assert await gateway.desk.open_case_of(cid) is None
    assert await gateway.desk.waiting() == []
    assert "Never mind!" not in gateway.rasa.texts()
    assert gateway.rasa.tracker_events_of(cid) == ["resume"]

    await customer.say("how much is shipping")
    await customer.expect("You said: how much is shipping")
    assert gateway.rasa.texts_of(cid)[-1] == "how much is shipping"
    # The console shows it closed, and it cannot be claimed any more.
    [card] = [c for c in await agent.cases() if c["case_id"] == case.case_id]
    assert card["status"] == "cancelled"
    status, _ = await agent.call("POST", f"/cases/{case.case_id}/claim", {})
    assert status == 409
    await socket.close()


async def resolved_case(gateway: Gateway, customer: WebCustomer,
                        agent: Agent) -> tuple[str, tuple[dict[str, str], ...]]:
    """Hand off, claim, reply, resolve; returns the case id and the rating buttons offered."""
    case = await hand_off(customer)
    await agent.act(case.case_id, "claim")
    await agent.act(case.case_id, "reply", {"text": "Your refund went out today."})
    await customer.expect("Your refund went out today.")
    resolved = await agent.act(case.case_id, "resolve")
    assert resolved["case"]["status"] == "resolved"
    prompt = await customer.expect("rate us from 1 (poor) to 5 (great)")
    assert [b["title"] for b in prompt.buttons] == ["1", "2", "3", "4", "5"]
    state = await gateway.stores.conversations.get(customer.conversation_id)
    assert state.awaiting_rating == case.case_id
    return case.case_id, prompt.buttons


async def test_resolve_asks_for_a_rating_and_the_5_button_stores_it(
        gateway: Gateway, make_customer: MakeCustomer, make_agent: MakeAgent) -> None:
    customer = await make_customer(gateway)
    assert isinstance(customer, WebCustomer)
    agent = await make_agent(gateway)
    socket = await agent.socket()
    case_id, buttons = await resolved_case(gateway, customer, agent)
    asked = len(gateway.rasa.received)

    five = next(b for b in buttons if b["title"] == "5")
    await customer.press(five["title"], five["payload"])
    await customer.expect("Thank you for your feedback!")
    assert (await gateway.stores.cases.get(case_id)).csat == 5
    rated = await socket.event("rated", case_id)
    assert rated["status"] == "resolved"
    assert len(gateway.rasa.received) == asked  # the rating never reached the bot
    state = await gateway.stores.conversations.get(customer.conversation_id)
    assert state.awaiting_rating is None
    [card] = [c for c in await agent.cases() if c["case_id"] == case_id]
    assert card["csat"] == 5

    # Afterwards the bot has the conversation again.
    await customer.say("thanks")
    await customer.expect("You said: thanks")
    assert gateway.rasa.tracker_events_of(customer.conversation_id) == ["resume"]
    await socket.close()


async def test_a_message_that_is_not_a_rating_goes_to_the_bot_and_clears_the_rating(
        gateway: Gateway, make_customer: MakeCustomer, make_agent: MakeAgent) -> None:
    customer = await make_customer(gateway)
    assert isinstance(customer, WebCustomer)
    agent = await make_agent(gateway)
    case_id, _ = await resolved_case(gateway, customer, agent)

    await customer.say("can I also change my delivery address")
    await customer.expect("You said: can I also change my delivery address")
    state = await gateway.stores.conversations.get(customer.conversation_id)
    assert state.awaiting_rating is None
    assert (await gateway.stores.cases.get(case_id)).csat is None

    # The prompt is over: a "5" now is an ordinary message for the bot, not a late rating.
    await customer.say("5")
    await customer.expect("You said: 5")
    assert (await gateway.stores.cases.get(case_id)).csat is None
    assert gateway.rasa.texts_of(customer.conversation_id)[-2:] == [
        "can I also change my delivery address", "5"]
