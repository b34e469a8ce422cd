"""Nobody available (AGENT_HOURS=never, or AGENT_PRESENCE_REQUIRED with nobody signed in): the
customer is told so honestly and asked how to reach them; the contact they leave is kept on the
case; follow-up cases are served before queued ones; and once an agent is on the console
websocket, new handoffs queue normally again."""

from __future__ import annotations

from bot.state import CaseStatus

from typing import Any

import pytest

from tests.handoff.conftest import MakeAgent, MakeCustomer, MakeGateway, eventually, hand_off

NOBODY = {"hours never": {"agent_hours": "never"},
          "presence required, nobody signed in": {"agent_presence_required": True}}


@pytest.mark.parametrize("settings", list(NOBODY.values()), ids=list(NOBODY))
async def test_nobody_available_takes_a_contact_for_a_follow_up(
        settings: dict[str, Any], make_gateway: MakeGateway, make_customer: MakeCustomer,
        make_agent: MakeAgent) -> None:
    gateway = await make_gateway(**settings)
    customer = await make_customer(gateway)
    case = await hand_off(customer)
    told = customer.last
    assert case.status is CaseStatus.FOLLOW_UP
    assert f"case {case.case_id}" in told.text
    assert "nobody is available to chat right now" in told.text
    assert "email address or phone number" in told.text
    assert "queue" not in told.text  # no promise of a live reply

    asked = len(gateway.rasa.received)
    await customer.say("you can reach me at jane.doe@example.com")
    await customer.expect("we'll get back to you there")
    stored = await gateway.stores.cases.get(case.case_id)
    assert stored.follow_up_contact == "jane.doe@example.com"
    assert stored.status is CaseStatus.FOLLOW_UP
    assert len(gateway.rasa.received) == asked  # the bot stayed out of it
    assert gateway.rasa.tracker_events_of(customer.conversation_id) == []
    assert customer.conversation_id in gateway.rasa.paused

    agent = await make_agent(gateway)
    [card] = await agent.cases()
    assert card["case_id"] == case.case_id and card["status"] == "follow_up"
    assert card["follow_up_contact_left"] is True
    detail = await agent.case(case.case_id)
    assert detail["context"]["follow_up_contact"] == "jane.doe@example.com"


async def test_follow_ups_are_listed_before_queued_cases(
        make_gateway: MakeGateway, make_customer: MakeCustomer, make_agent: MakeAgent) -> None:
    gateway = await make_gateway(agent_presence_required=True)
    agent = await make_agent(gateway)

    # While Ana is on the console, a handoff queues.
    socket = await agent.socket()
    first = await hand_off(await make_customer(gateway))
    assert first.status is CaseStatus.QUEUED

    # She leaves; the next handoff becomes a follow-up, and it is served first.
    await socket.close()
    await eventually(lambda: not gateway.desk.availability.online, what="Ana offline")
    second = await hand_off(await make_customer(gateway))
    assert second.status is CaseStatus.FOLLOW_UP

    assert [c.case_id for c in await gateway.desk.waiting()] == [second.case_id,
                                                                    first.case_id]
    cards = await agent.cases()
    assert [(c["case_id"], c["status"], c["position"]) for c in cards] == [
        (second.case_id, "follow_up", 1), (first.case_id, "queued", 2)]


async def test_an_agent_on_the_console_makes_handoffs_queue_again(
        make_gateway: MakeGateway, make_customer: MakeCustomer, make_agent: MakeAgent) -> None:
    gateway = await make_gateway(agent_presence_required=True)
    agent = await make_agent(gateway)  # signed in over HTTP only: not present yet

    early = await hand_off(await make_customer(gateway))
    assert early.status is CaseStatus.FOLLOW_UP

    socket = await agent.socket()  # the console is open: Ana is present
    assert gateway.desk.availability.online
    customer = await make_customer(gateway)
    later = await hand_off(customer)
    assert later.status is CaseStatus.QUEUED
    told = customer.last
    assert "a person will reply right here" in told.text
    assert "nobody is available" not in told.text
    # The follow-up left while nobody was there is still ahead of it.
    assert "number 2 in the queue" in told.text

    await agent.act(later.case_id, "claim")
    await customer.expect("Ana from our support team has joined the chat")
    await socket.close()


@pytest.mark.parametrize("settings", list(NOBODY.values()), ids=list(NOBODY))
async def test_the_follow_up_message_reads_well(settings: dict[str, Any],
                                                make_gateway: MakeGateway,
                                                make_customer: MakeCustomer) -> None:
    gateway = await make_gateway(**settings)
    customer = await make_customer(gateway)
    await hand_off(customer)
    told = customer.last.text
    assert "around around" not in told
    assert "around only by follow-up" not in told
    # With nobody signed in, "around the clock" would contradict "nobody is available".
    assert "around the clock" not in told
