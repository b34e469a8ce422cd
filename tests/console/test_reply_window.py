"""A channel with a reply window (WhatsApp: 24 hours after the customer's last message) gets no
console code of its own: the case says until when a text reply can be delivered, and once the
window closed the console refuses the reply and says why."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from tests.console.conftest import HANDOFF_SECRET, AgentClient, Gateway, a_package

CUSTOMER = "whatsapp:+447700900123"
DAY = 24 * 3600


async def open_whatsapp_case(gateway: Gateway, *, last_wrote: float) -> str:
    package: dict[str, Any] = {**a_package(CUSTOMER), "channel": "whatsapp"}
    await gateway.stores.conversations.update(CUSTOMER, channel="whatsapp",
                                              customer_id="+447700900123", last_seen=last_wrote)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/handoff/v1/cases", json=package,
                             headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["case_id"])


async def test_the_case_says_until_when_a_text_reply_can_be_delivered(
        gateway: Gateway, ana: AgentClient) -> None:
    wrote = time.time() - 3600
    case_id = await open_whatsapp_case(gateway, last_wrote=wrote)
    _, body = await ana.get("/cases")
    [card] = [c for c in body["cases"] if c["case_id"] == case_id]
    assert card["reply_until"] == wrote + DAY


async def test_a_channel_without_a_reply_window_has_no_limit(gateway: Gateway,
                                                             ana: AgentClient) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/handoff/v1/cases", json=a_package("web:any"),
                             headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
            case_id = (await resp.json())["case_id"]
    _, body = await ana.get(f"/cases/{case_id}")
    assert body["case"]["reply_until"] is None


async def test_a_reply_after_the_window_closed_is_refused_with_the_reason(
        gateway: Gateway, ana: AgentClient) -> None:
    case_id = await open_whatsapp_case(gateway, last_wrote=time.time() - DAY - 60)
    assert (await ana.post(f"/cases/{case_id}/claim"))[0] == 200
    status, body = await ana.post(f"/cases/{case_id}/reply", {"text": "your refund is through"})
    assert status == 409
    assert body["error"] == "reply_window_closed"
    assert "WhatsApp delivers text replies only within 24 h" in body["message"]
    _, detail = await ana.get(f"/cases/{case_id}")
    assert not any(e["role"] == "agent" for e in detail["transcript"])


async def test_a_reply_inside_the_window_goes_out(gateway: Gateway, ana: AgentClient) -> None:
    case_id = await open_whatsapp_case(gateway, last_wrote=time.time() - DAY + 600)
    assert (await ana.post(f"/cases/{case_id}/claim"))[0] == 200
    status, _ = await ana.post(f"/cases/{case_id}/reply", {"text": "your refund is through"})
    assert status == 200
