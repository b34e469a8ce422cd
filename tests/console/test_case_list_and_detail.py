"""The queue (follow-ups, then queued, then mine, then teammates', then recently closed) and a
case's detail: the context package summary-first plus the live transcript."""

from __future__ import annotations

from typing import Awaitable, Callable

from bot.availability import OpeningHours
from tests.console.conftest import ANA, BO, AgentClient, Customer, Gateway, open_case


async def test_queue_order_and_cards(gateway: Gateway, ana: AgentClient) -> None:
    first = await open_case(gateway, "web:first")
    second = await open_case(gateway, "web:second")
    gateway.desk.availability.hours = OpeningHours.parse("never")  # nobody around: a follow-up
    follow_up = await open_case(gateway, "web:after-hours")
    gateway.desk.availability.hours = OpeningHours.parse("always")
    mine = await open_case(gateway, "web:mine")
    theirs = await open_case(gateway, "web:theirs")
    closed = await open_case(gateway, "web:closed")
    await gateway.desk.claim(mine, ANA)
    await gateway.desk.claim(theirs, BO)
    await gateway.desk.claim(closed, ANA)
    await gateway.desk.resolve(closed, ANA)

    status, body = await ana.get("/cases")
    assert status == 200
    cards = body["cases"]
    assert [c["case_id"] for c in cards] == [follow_up, first, second, mine, theirs, closed]
    assert [c["status"] for c in cards] == ["follow_up", "queued", "queued", "active", "active",
                                           "resolved"]
    assert [c["position"] for c in cards] == [1, 2, 3, None, None, None]
    by_id = {c["case_id"]: c for c in cards}
    assert by_id[mine]["mine"] is True and by_id[theirs]["mine"] is False
    assert by_id[theirs]["agent"] == BO and by_id[theirs]["agent_name"] == "Bo"
    card = by_id[first]
    assert card["channel"] == "web"
    assert card["trigger"] == {"kind": "customer_request", "detail": "asked for a person"}
    assert card["wants"] == "the status of an order"
    assert card["customer"].startswith("Web chat visitor")
    assert card["sentiment"]["trend"] in ("improving", "worsening", "steady")


async def test_each_agent_sees_their_own_active_cases_first(gateway: Gateway, ana: AgentClient,
                                                            bo: AgentClient) -> None:
    ana_case, bo_case = await open_case(gateway, "web:a"), await open_case(gateway, "web:b")
    await gateway.desk.claim(bo_case, BO)
    await gateway.desk.claim(ana_case, ANA)
    assert [c["case_id"] for c in (await ana.get("/cases"))[1]["cases"]] == [ana_case, bo_case]
    assert [c["case_id"] for c in (await bo.get("/cases"))[1]["cases"]] == [bo_case, ana_case]


async def test_detail_has_the_context_package_and_the_live_transcript(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    await visitor.chat.send("my card 4111 1111 1111 1111 was charged")  # queued: goes to the case
    await visitor.chat.reply()  # "Got it, I've added that to your case..."

    status, body = await ana.get(f"/cases/{case_id}")
    assert status == 200
    assert body["case"]["case_id"] == case_id and body["case"]["status"] == "queued"
    context = body["context"]
    assert list(context)[:2] == ["summary", "trigger"]  # summary first
    assert context["summary"]["wants"] == "the status of an order"
    assert "looked up order NW-10442" in context["summary"]["bot_did"]
    assert "I want a person" in context["summary"]["stopped_at"]
    assert context["trigger"]["kind"] == "customer_request"
    assert context["channel"] == "web"
    assert context["customer"]["id"] == visitor.conversation_id
    assert context["slots"] == {"order_id": "NW-10442"}
    assert [i["name"] for i in context["intents"]] == ["human_handoff", "order_status", "inform"]
    assert context["intents"][0]["confidence"] == 0.97
    assert set(context["sentiment"]) >= {"latest", "average", "trend", "scores"}
    assert context["steps_tried"] == ["looked up order NW-10442: shipped, in transit"]

    transcript = body["transcript"]
    roles = [e["role"] for e in transcript]
    assert roles[:2] == ["customer", "bot"] and roles[-2:] == ["customer", "system"]
    assert transcript[0]["text"] == "my parcel has not arrived"
    # The agent's copy is redacted: no card number.
    assert "4111 1111 1111 1111" not in transcript[-2]["text"] and "1111]" in transcript[-2]["text"]


async def test_a_case_without_a_gateway_transcript_shows_the_package_one(
        gateway: Gateway, ana: AgentClient) -> None:
    case_id = await open_case(gateway, "web:no-gateway-history")
    _, body = await ana.get(f"/cases/{case_id}")
    assert [e["role"] for e in body["transcript"]] == ["customer", "bot", "customer", "bot",
                                                      "customer"]
    assert all(e["source"] == "package" for e in body["transcript"])


async def test_unknown_and_malformed_case_ids_are_404(ana: AgentClient) -> None:
    for case_id in ("C-DEADBEEF", "no%20such", "x" * 65):
        status, body = await ana.get(f"/cases/{case_id}")
        assert status == 404 and body["error"] == "case_not_found", case_id
        status, body = await ana.post(f"/cases/{case_id}/claim")
        assert status == 404, case_id


async def test_closed_cases_list_is_bounded(gateway: Gateway, ana: AgentClient,
                                            customer: Callable[[], Awaitable[Customer]]) -> None:
    for n in range(30):
        case_id = await open_case(gateway, f"web:old-{n}")
        await gateway.desk.claim(case_id, ANA)
        await gateway.desk.return_to_bot(case_id, ANA)
    cards = (await ana.get("/cases"))[1]["cases"]
    assert len(cards) == 25 and all(c["status"] == "returned" for c in cards)
