"""Resolve: the customer is asked for a 1-5 rating; pressing "5" stores csat=5 on the case."""

from __future__ import annotations

from tests.console.conftest import AgentClient, Customer, Gateway


async def test_resolve_asks_for_a_rating_and_stores_it(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    socket = await ana.ws()
    await ana.post(f"/cases/{case_id}/claim")
    await visitor.chat.reply()
    await ana.post(f"/cases/{case_id}/reply", {"text": "It arrives tomorrow."})
    await visitor.chat.reply()

    status, body = await ana.post(f"/cases/{case_id}/resolve")
    assert status == 200 and body["case"]["status"] == "resolved"
    prompt = await visitor.chat.reply()
    assert "rate us from 1 (poor) to 5 (great)" in prompt["text"]
    assert [b["title"] for b in prompt["buttons"]] == ["1", "2", "3", "4", "5"]

    five = next(b for b in prompt["buttons"] if b["title"] == "5")
    replies = await visitor.chat.tap(five["title"], five["payload"])
    assert replies[-1]["text"] == "Thank you for your feedback!"
    assert (await gateway.stores.cases.get(case_id)).csat == 5
    rated = await socket.event("rated", case_id)
    assert rated["status"] == "resolved"

    card = next(c for c in (await ana.get("/cases"))[1]["cases"] if c["case_id"] == case_id)
    assert card["status"] == "resolved" and card["csat"] == 5
    assert "rated" not in gateway.rasa.texts() and "/rate_5" not in gateway.rasa.texts()


async def test_a_typed_rating_counts_too(gateway: Gateway, ana: AgentClient,
                                         case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    await ana.post(f"/cases/{case_id}/claim")
    await ana.post(f"/cases/{case_id}/resolve")
    await visitor.chat.reply()  # joined
    await visitor.chat.reply()  # the rating prompt
    replies = await visitor.chat.turn("5")
    assert replies[-1]["text"] == "Thank you for your feedback!"
    assert (await gateway.stores.cases.get(case_id)).csat == 5
