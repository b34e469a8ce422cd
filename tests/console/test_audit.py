"""Every view, claim, reply, hand-back, resolve and sign-in is in the audit log, with who, when
and which case; a reply is recorded by its length, never its text."""

from __future__ import annotations

import json

from tests.console.conftest import ANA, BO, AgentClient, AgentFactory, Customer, Gateway, open_case

SECRET_REPLY = "Your new PIN is 4921, card ending 0004, call me at 555-0100"


async def test_case_actions_are_audited_without_the_reply_text(
        gateway: Gateway, ana: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, visitor = case
    other = await open_case(gateway, "web:second-case")
    await ana.get(f"/cases/{case_id}")
    await ana.post(f"/cases/{case_id}/claim")
    await ana.post(f"/cases/{case_id}/reply", {"text": SECRET_REPLY})
    await ana.post(f"/cases/{case_id}/return")
    await ana.post(f"/cases/{other}/claim")
    await ana.post(f"/cases/{other}/resolve")

    entries = await gateway.stores.audit.recent(limit=100)
    assert [(e["agent"], e["action"], e.get("case_id")) for e in entries] == [
        (ANA, "login", None),
        (ANA, "view", case_id),
        (ANA, "claim", case_id),
        (ANA, "reply", case_id),
        (ANA, "return_to_bot", case_id),
        (ANA, "claim", other),
        (ANA, "resolve", other),
    ]
    reply = entries[3]
    assert reply["detail"] == {"chars": len(SECRET_REPLY)}
    assert all(isinstance(e["ts"], float) for e in entries)
    assert all(set(e) <= {"ts", "agent", "action", "case_id", "detail"} for e in entries)
    dumped = json.dumps(entries)
    for fragment in ("4921", "0004", "555-0100", "PIN"):
        assert fragment not in dumped


async def test_refused_actions_are_not_recorded_as_done(gateway: Gateway, ana: AgentClient,
                                                        bo: AgentClient,
                                                        case: tuple[str, Customer]) -> None:
    case_id, _ = case
    await ana.post(f"/cases/{case_id}/claim")
    assert (await bo.post(f"/cases/{case_id}/claim"))[0] == 409
    assert (await bo.post(f"/cases/{case_id}/reply", {"text": "hi"}))[0] == 409
    actions = [(e["agent"], e["action"]) for e in await gateway.stores.audit.recent(limit=100)]
    assert (BO, "claim") not in actions and (BO, "reply") not in actions
    assert (ANA, "claim") in actions


async def test_sign_in_events_are_audited(gateway: Gateway, agent_client: AgentFactory) -> None:
    client = await agent_client()
    await client.login(BO, "wrong")
    await client.login("stranger@example.com", "wrong")
    await client.login(BO)
    await client.post("/logout")
    entries = await gateway.stores.audit.recent(limit=100)
    assert [(e["agent"], e["action"], e.get("detail")) for e in entries] == [
        (BO, "login_failed", {"reason": "wrong password", "locked": False}),
        ("stranger@example.com", "login_failed", {"reason": "unknown account", "locked": False}),
        (BO, "login", None),
        (BO, "logout", None),
    ]
    assert "wrong" not in json.dumps([e.get("detail", {}).get("password") for e in entries])


async def test_any_signed_in_agent_reads_the_log_newest_first(
        gateway: Gateway, ana: AgentClient, bo: AgentClient, case: tuple[str, Customer]) -> None:
    case_id, _ = case
    await ana.post(f"/cases/{case_id}/claim")
    status, body = await bo.get("/audit")
    assert status == 200
    top = body["entries"][0]
    assert (top["agent"], top["action"], top["case_id"]) == (ANA, "claim", case_id)
    assert top["agent_name"] == "Ana"
    assert [e["action"] for e in body["entries"]][-2:] == ["login", "login"]

    status, body = await bo.get("/audit?limit=1")
    assert status == 200 and len(body["entries"]) == 1
    status, body = await bo.get("/audit?limit=lots")
    assert status == 400
