"""The console websocket: new cases, customer messages and claims are pushed to every signed-in
agent; an open case's transcript updates live; connecting marks the agent online."""

from __future__ import annotations

from bot.state import CaseStatus

import asyncio

from tests.console.conftest import ANA, BO, AgentClient, AgentFactory, Customer, Gateway, open_case


async def _eventually(check, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


async def test_a_new_case_and_a_customer_message_are_pushed(
        gateway: Gateway, ana: AgentClient, customer) -> None:  # type: ignore[no-untyped-def]
    socket = await ana.ws()
    visitor: Customer = await customer()
    case_id = await open_case(gateway, visitor.conversation_id)

    opened = await socket.event("opened")
    assert opened["case_id"] == case_id
    assert (opened["status"], opened["channel"], opened["trigger"]) == ("queued", "web",
                                                                         "customer_request")
    await visitor.chat.send("hello, still waiting here")
    message = await socket.event("customer_message", case_id)
    assert message["text"] == "hello, still waiting here"

    # The queue reloads after an event and shows the case.
    _, body = await ana.get("/cases")
    assert [c["case_id"] for c in body["cases"]] == [case_id]


async def test_claims_by_a_teammate_are_pushed(gateway: Gateway, ana: AgentClient,
                                               bo: AgentClient,
                                               case: tuple[str, Customer]) -> None:
    case_id, _ = case
    socket = await ana.ws()
    await bo.post(f"/cases/{case_id}/claim")
    claimed = await socket.event("claimed", case_id)
    assert (claimed["status"], claimed["actor"], claimed["actor_name"]) == ("active", BO, "Bo")
    await bo.post(f"/cases/{case_id}/resolve")
    resolved = await socket.event("resolved", case_id)
    assert resolved["actor"] == BO


async def test_the_open_case_transcript_updates_live(gateway: Gateway, ana: AgentClient,
                                                     case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    socket = await ana.ws()
    await ana.get(f"/cases/{case_id}")
    await socket.watch(case_id)
    await socket.next("transcript")  # the current state, at once

    await ana.post(f"/cases/{case_id}/claim")
    frame = await socket.next("transcript", where=lambda f: f["case"]["status"] == "active")
    assert frame["case"]["agent"] == ANA
    assert "joined the chat" in frame["entries"][-1]["text"]

    await visitor.chat.send("my order number is NW-10442")
    frame = await socket.next("transcript", where=lambda f: f["entries"][-1]["role"] == "customer")
    assert frame["entries"][-1]["text"] == "my order number is NW-10442"

    await ana.post(f"/cases/{case_id}/resolve")
    frame = await socket.next("transcript", where=lambda f: "rate us" in f["entries"][-1]["text"])
    assert frame["case"]["status"] == "resolved"

    await socket.watch(None)  # closing the case in the UI: no more transcript frames
    mark = len(socket.seen)
    await visitor.chat.send("5")
    await socket.event("rated", case_id)
    assert [f["type"] for f in socket.seen[mark:]] == ["event"]


async def test_watching_without_opening_the_case_is_audited_as_a_view(
        gateway: Gateway, bo: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, _ = case
    socket = await bo.ws()
    await socket.watch(case_id)
    await socket.next("transcript")
    views = [e for e in await gateway.stores.audit.recent(limit=20) if e["action"] == "view"]
    assert [(e["agent"], e["case_id"], e["detail"]) for e in views] == [
        (BO, case_id, {"via": "live"})]
    await socket.watch("C-NOSUCHCASE")  # ignored, no crash
    await socket.ws.send_str("not json")
    await socket.ws.send_json({"type": "ping"})
    await socket.next("pong")


async def test_connecting_marks_the_agent_online_and_closing_offline(
        gateway: Gateway, ana: AgentClient, bo: AgentClient) -> None:
    availability = gateway.desk.availability
    first = await ana.ws()
    second = await ana.ws()  # a second tab
    assert availability.online == {ANA: 2}
    bob = await bo.ws()
    presence = await first.next("presence", where=lambda f: BO in f["online"])
    assert presence["online"] == [ANA, BO]

    await second.ws.close()
    await _eventually(lambda: availability.online == {ANA: 1, BO: 1})
    await bob.ws.close()
    await first.next("presence", where=lambda f: f["online"] == [ANA])
    await first.ws.close()
    await _eventually(lambda: availability.online == {})


async def test_presence_decides_between_queue_and_follow_up(
        gateway: Gateway, ana: AgentClient) -> None:
    gateway.desk.availability.presence_required = True
    nobody = await open_case(gateway, "web:nobody-online")
    assert (await gateway.stores.cases.get(nobody)).status is CaseStatus.FOLLOW_UP
    socket = await ana.ws()
    staffed = await open_case(gateway, "web:ana-online")
    assert (await gateway.stores.cases.get(staffed)).status is CaseStatus.QUEUED
    await socket.ws.close()


async def test_signing_out_closes_the_agents_sockets(gateway: Gateway,
                                                     agent_client: AgentFactory) -> None:
    laptop, phone = await agent_client(ANA), await agent_client(ANA)
    laptop_socket, phone_socket = await laptop.ws(), await phone.ws()
    await laptop.post("/logout")
    assert await laptop_socket.closed() == 4401
    await phone_socket.ws.send_json({"type": "ping"})
    await phone_socket.next("pong")  # the other session is untouched
    await _eventually(lambda: gateway.desk.availability.online == {ANA: 1})


async def test_an_expired_session_is_noticed_on_an_open_socket(
        gateway: Gateway, ana: AgentClient) -> None:
    gateway.console.live.session_recheck_s = 0.1
    socket = await ana.ws()
    client = next(iter(gateway.console.live.clients))
    await gateway.stores.sessions.delete(client.session_key)  # as when it expires
    assert await socket.closed() == 4401
