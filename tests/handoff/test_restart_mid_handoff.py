"""A gateway restart in the middle of a handoff loses nothing (real Redis): the case, its
transcript and the routing of the conversation survive, so on the new gateway the agent claims and
replies, the web chat customer who reconnects with their session token gets the reply, and their
messages still go to the case, not to the bot."""

from __future__ import annotations

from bot.state import CaseStatus

from bot.stores import redis_stores
from tests.conftest import REDIS_URL
from tests.handoff.conftest import MakeAgent, MakeCustomer, MakeGateway, WebCustomer, hand_off


async def test_a_restart_mid_handoff_keeps_the_case_and_its_routing(
        make_gateway: MakeGateway, make_customer: MakeCustomer, make_agent: MakeAgent,
        redis_prefix: str) -> None:
    before = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix))
    customer = await make_customer(before)
    assert isinstance(customer, WebCustomer)
    cid = customer.conversation_id
    await customer.say("where is my parcel")
    await customer.expect("You said: where is my parcel")
    case = await hand_off(customer)
    case_id = case.case_id
    await customer.say("it is the blue teapot")
    await customer.expect("added that to your case")
    await before.settle()
    asked = len(before.rasa.received)

    # The customer's tab loses its connection, the gateway goes down, and a new one comes up on
    # the same Redis prefix, with new store clients and nothing in memory. (The tab disconnects
    # first: the web chat closes its sockets only in cleanup_ctx, after aiohttp has waited for
    # open handlers, so an open tab would hold this shutdown for ~40 s.)
    await customer.disconnect()
    await before.stop()
    after = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix))
    assert after.url != before.url

    stored = await after.stores.cases.get(case_id)
    assert stored is not None and stored.status is CaseStatus.QUEUED
    assert stored.package["conversation_id"] == cid
    assert (await after.desk.open_case_of(cid)).case_id == case_id
    assert [c.case_id for c in await after.desk.waiting()] == [case_id]

    # The customer's tab reconnects with its session token: same conversation, same history.
    await customer.connect(after)
    assert customer.conversation_id == cid
    assert "it is the blue teapot" in [e["text"] for e in customer.history]

    # The agent works the case on the new gateway; the transcript from before is all there.
    agent = await make_agent(after)
    socket = await agent.socket()
    assert [c["case_id"] for c in await agent.cases()] == [case_id]
    detail = await agent.case(case_id)
    assert [e["text"] for e in detail["transcript"] if e["role"] == "customer"] == [
        "where is my parcel", "agent", "it is the blue teapot"]
    await agent.act(case_id, "claim")
    await customer.expect("Ana from our support team has joined the chat")
    await agent.act(case_id, "reply", {"text": "Thanks for waiting. It arrives tomorrow."})
    reply = await customer.expect("Thanks for waiting. It arrives tomorrow.")
    assert reply.role == "agent"

    # The customer's messages still route to the case, not to the bot.
    await customer.say("perfect, see you")
    event = await socket.event("customer_message", case_id)
    assert event["text"] == "perfect, see you"
    await after.settle()
    assert len(after.rasa.received) == asked
    transcript = (await agent.case(case_id))["transcript"]
    assert [e["text"] for e in transcript if e["role"] == "customer"][-1] == "perfect, see you"
    assert customer.unread() == []

    # Handing back still works after the restart, and the bot answers again.
    await agent.act(case_id, "return")
    await customer.expect("You're back with the automated assistant")
    await customer.say("how much is shipping")
    await customer.expect("You said: how much is shipping")
    assert after.rasa.tracker_events_of(cid) == ["resume"]
    await socket.close()
