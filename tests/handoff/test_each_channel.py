"""A whole handoff on each customer channel: the customer asks for a person, the action server's
package opens a case and the customer hears they are queued; an agent in the web console sees the
case with its context, claims it and replies, and the reply reaches the customer on their own
channel; while the case is open the bot stays silent and the customer's words go to the case; the
agent hands back and the bot answers again. Rasa's tracker is paused and resumed around it."""

from __future__ import annotations

from bot.state import CaseStatus

import pytest

from tests.handoff.conftest import (ANA, CHANNELS, Customer, Gateway, MakeAgent, MakeCustomer,
                                    WebCustomer, hand_off)

REPLY = "Hi, I'm Ana. I can see your parcel is with the courier; it arrives tomorrow."


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_handoff_round_trip_on_the_customers_own_channel(
        channel: str, gateway: Gateway, make_customer: MakeCustomer,
        make_agent: MakeAgent) -> None:
    customer: Customer = await make_customer(gateway, channel)
    cid = customer.conversation_id
    assert cid.startswith(f"{channel}:")

    # The bot answers first.
    await customer.say("where is my parcel")
    await customer.expect("You said: where is my parcel")

    # The customer asks for a person: the action server posts the package, the customer is told.
    case = await hand_off(customer)
    case_id = case.case_id
    queued = customer.last
    assert f"case {case_id}" in queued.text and "number 1 in the queue" in queued.text
    assert "never mind" in queued.text
    assert case.status is CaseStatus.QUEUED and case.channel == channel
    [call] = gateway.rasa.handoff_calls  # once, answered well within its 5 s timeout
    assert call.error is None and call.seconds < 1.0
    assert call.receipt["case_id"] == case_id and call.receipt["customer_message"] == queued.text
    assert gateway.rasa.tracker_events_of(cid) == []  # the action paused it (ConversationPaused)
    assert cid in gateway.rasa.paused

    # While queued, what the customer adds goes to the case, with an honest acknowledgement.
    asked = len(gateway.rasa.received)
    await customer.say("it is the blue teapot")
    await customer.expect("added that to your case")

    # An agent signs in, sees the case with the package context, and claims it.
    agent = await make_agent(gateway)
    socket = await agent.socket()
    [card] = [c for c in await agent.cases() if c["case_id"] == case_id]
    assert card["status"] == "queued" and card["position"] == 1
    assert card["channel"] == channel
    assert card["trigger"]["kind"] == "customer_request"
    assert card["wants"] == "the status of an order"
    detail = await agent.case(case_id)
    assert detail["context"]["summary"]["wants"] == "the status of an order"
    assert detail["context"]["channel"] == channel
    assert {i["name"] for i in detail["context"]["intents"]} == {"order_status", "human_handoff"}
    assert detail["context"]["trigger"]["detail"] == "customer asked for a person"
    customer_lines = [e["text"] for e in detail["transcript"] if e["role"] == "customer"]
    assert customer_lines[-1] == "it is the blue teapot"

    claimed = await agent.act(case_id, "claim")
    assert claimed["case"]["status"] == "active" and claimed["case"]["mine"]
    joined = await customer.expect("from our support team has joined the chat")
    assert joined.text.startswith("Ana ")

    # The agent's reply arrives on the customer's channel, recognisably from the person.
    await agent.act(case_id, "reply", {"text": REPLY})
    reply = await customer.expect(REPLY)
    if isinstance(customer, WebCustomer):  # the widget labels it "Support agent"
        assert joined.role == "system" and reply.role == "agent"
        assert reply.text == REPLY

    # While the case is open the bot is silent: the customer's message goes to the case.
    await customer.say("great, thank you so much")
    event = await socket.event("customer_message", case_id)
    assert event["text"] == "great, thank you so much"
    await gateway.settle()
    assert len(gateway.rasa.received) == asked
    transcript = (await agent.case(case_id))["transcript"]
    assert [e["text"] for e in transcript if e["role"] == "customer"][-1] == \
        "great, thank you so much"
    assert any(e["role"] == "agent" and e["text"] == REPLY for e in transcript)
    assert customer.unread() == []  # nothing answered it automatically while a person has it

    # The agent hands the conversation back; the customer is told, and the bot answers again.
    returned = await agent.act(case_id, "return")
    assert returned["case"]["status"] == "returned"
    told = await customer.expect("You're back with the automated assistant")
    if isinstance(customer, WebCustomer):
        assert told.role == "system"
    await customer.say("how much is shipping")
    await customer.expect("You said: how much is shipping")
    assert gateway.rasa.texts_of(cid)[-1] == "how much is shipping"
    assert gateway.rasa.tracker_events_of(cid) == ["resume"]
    assert await gateway.desk.open_case_of(cid) is None
    assert (await gateway.stores.cases.get(case_id)).agent == ANA

    # No other platform was sent anything: everything went through the customer's own channel.
    twilio = gateway.fakes.twilio.sent
    platform_sends = {"slack": gateway.fakes.slack.posts(), "telegram": gateway.fakes.telegram.sent(),
                      "sms": [m for m in twilio if not m["To"].startswith("whatsapp:")],
                      "whatsapp": [m for m in twilio if m["To"].startswith("whatsapp:")]}
    assert all(not sent for name, sent in platform_sends.items() if name != channel)
    await socket.close()


@pytest.mark.parametrize("channel", [c for c in CHANNELS if c != "web"])
async def test_an_agents_reply_is_labelled_on_platform_channels(
        channel: str, gateway: Gateway, make_customer: MakeCustomer,
        make_agent: MakeAgent) -> None:
    customer = await make_customer(gateway, channel)
    case = await hand_off(customer)
    agent = await make_agent(gateway)
    await agent.act(case.case_id, "claim")
    await agent.act(case.case_id, "reply", {"text": REPLY})
    reply = await customer.expect(REPLY)
    label = reply.text[:reply.text.index(REPLY)].lower()
    assert "agent" in label or "support" in label or "ana" in label


@pytest.mark.parametrize("channel", CHANNELS)
async def test_agents_see_what_the_customer_typed_not_the_handoff_payload(
        channel: str, gateway: Gateway, make_customer: MakeCustomer) -> None:
    customer: Customer = await make_customer(gateway, channel)
    case = await hand_off(customer)  # the customer typed "agent"; Rasa got /human_handoff
    package = case.package
    assert [line["text"] for line in package["transcript"] if line["role"] == "customer"] == \
        ["agent"]
    assert package["summary"]["stopped_at"].endswith('last customer message: "agent"')
    assert "/human_handoff" not in str(package)
