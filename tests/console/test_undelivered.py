"""A message that did not reach the customer of an open case (the platform refused it, or said so
later) is pushed to the agents at once, with the reason, besides the transcript line."""

from __future__ import annotations

from tests.console.conftest import AgentClient, Customer, Gateway


async def test_an_undelivered_message_is_pushed_to_the_agents_with_the_reason(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    socket = await ana.ws()
    await gateway.engine.record_undelivered(visitor.conversation_id,
                                            "WhatsApp reported it failed (Twilio error 63003)",
                                            message_id="MM1")
    event = await socket.event("undelivered", case_id)
    assert event["text"] == "WhatsApp reported it failed (Twilio error 63003)"
    _, detail = await ana.get(f"/cases/{case_id}")
    assert detail["transcript"][-1]["text"] == (
        "undelivered: WhatsApp reported it failed (Twilio error 63003)")


async def test_without_an_open_case_it_is_only_recorded(gateway: Gateway, ana: AgentClient,
                                                       customer) -> None:  # type: ignore[no-untyped-def]
    visitor: Customer = await customer()
    socket = await ana.ws()
    await gateway.engine.record_undelivered(visitor.conversation_id, "refused", message_id="MM2")
    await socket.ws.send_json({"type": "ping"})
    pong = await socket.next("pong")
    assert pong == {"type": "pong"}
    assert not any(f.get("kind") == "undelivered" for f in socket.seen)
