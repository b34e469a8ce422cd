"""POST /handoff/v1/cases: authenticated, validated against schema v1, one open case per conversation."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.handoff_package import build_package
from tests.gateway.conftest import HANDOFF_SECRET, Gateway

AUTH = {"Authorization": f"Bearer {HANDOFF_SECRET}"}


def a_package(conversation_id: str = "web:abc") -> dict[str, Any]:
    return build_package(
        conversation_id=conversation_id, channel="web", customer_id=conversation_id,
        events=[{"event": "user", "text": "agent", "timestamp": 1.0,
                 "parse_data": {"intent": {"name": "human_handoff", "confidence": 1.0}}}],
        slots={}, steps_tried=[], trigger_kind="customer_request", trigger_detail="asked")


async def post(gateway: Gateway, body: Any, headers: dict[str, str] | None = AUTH,
               raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with http.post(f"{gateway.url}/handoff/v1/cases", headers=headers or {}, **kwargs) as r:
            return r.status, await r.json()


async def test_valid_package_opens_a_queued_case(gateway: Gateway) -> None:
    status, body = await post(gateway, a_package())
    assert status == 201
    assert body["status"] == "queued" and body["queue_position"] == 1
    assert body["case_id"] in body["customer_message"]
    case = await gateway.stores.cases.get(body["case_id"])
    assert case.package["transcript"][0]["text"] == "agent"


async def test_opening_a_case_does_not_call_back_into_rasa(gateway: Gateway) -> None:
    # The handoff action calls this endpoint inside the conversation's Rasa turn: any call to
    # Rasa for the conversation from here would wait for the turn's lock (the 7 s stall).
    await post(gateway, a_package())
    assert gateway.rasa.api_events == [] and gateway.rasa.refused == 0


async def test_queue_position_counts_waiting_cases(gateway: Gateway) -> None:
    await post(gateway, a_package("web:1"))
    _, body = await post(gateway, a_package("web:2"))
    assert body["queue_position"] == 2
    assert "number 2 in the queue" in body["customer_message"]


async def test_second_handoff_of_a_conversation_returns_the_open_case(gateway: Gateway) -> None:
    _, first = await post(gateway, a_package())
    _, second = await post(gateway, a_package())
    assert first["case_id"] == second["case_id"]
    assert [c.case_id for c in await gateway.stores.cases.waiting()] == [first["case_id"]]


@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer wrong"},
                                     {"Authorization": HANDOFF_SECRET}])
async def test_requests_without_the_secret_are_refused(gateway: Gateway,
                                                       headers: dict[str, str] | None) -> None:
    status, body = await post(gateway, a_package(), headers=headers)
    assert status == 401 and body["error"] == "unauthorized"
    assert await gateway.stores.cases.waiting() == []


@pytest.mark.parametrize("mutate, where", [
    (lambda p: p.pop("transcript"), "(root)"),
    (lambda p: p.update(schema_version="2.0"), "schema_version"),
    (lambda p: p.update(channel="carrier-pigeon"), "channel"),
    (lambda p: p["trigger"].update(kind="because"), "trigger/kind"),
    (lambda p: p.update(extra_field=1), "(root)"),
])
async def test_invalid_packages_are_refused_with_the_reason(gateway: Gateway, mutate: Any,
                                                            where: str) -> None:
    package = a_package()
    mutate(package)
    status, body = await post(gateway, package)
    assert status == 422 and body["error"] == "invalid_package"
    assert any(d.startswith(where) for d in body["details"])


@pytest.mark.parametrize("raw", [b"{nope", b"\xff\xfe not utf-8", b"[" * 10_000 + b"]" * 10_000,
                                 b'{"a":' * 5000 + b"1" + b"}" * 5000])
async def test_a_body_that_is_not_json_we_accept_is_a_400(gateway: Gateway, raw: bytes) -> None:
    status, body = await post(gateway, None, raw=raw)
    assert status == 400 and body["error"] == "invalid_json"


async def test_an_oversized_body_is_refused_before_it_is_read(gateway: Gateway) -> None:
    status, body = await post(gateway, None, raw=b" " * 1_500_000)
    assert status == 413 and body["error"] == "too_large"


async def test_case_can_be_read_back_with_the_secret(gateway: Gateway) -> None:
    _, receipt = await post(gateway, a_package())
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.url}/handoff/v1/cases/{receipt['case_id']}", headers=AUTH) as r:
            assert r.status == 200
            assert (await r.json())["conversation_id"] == "web:abc"
        async with http.get(f"{gateway.url}/handoff/v1/cases/{receipt['case_id']}") as r:
            assert r.status == 401


async def test_the_case_keeps_the_gateways_whole_transcript(gateway: Gateway) -> None:
    """Rasa hands the handoff action only the recent turns (a bounded tracker): what the agent
    gets is the gateway's own transcript of the whole conversation, redacted."""
    for n in range(30):
        await gateway.stores.transcripts.append(
            "web:abc", {"id": f"m{n}", "role": "customer" if n % 2 == 0 else "bot",
                        "text": f"line {n} card 4111 1111 1111 1111", "ts": float(n)}, limit=500)
    status, body = await post(gateway, a_package("web:abc"))
    assert status == 201
    transcript = (await gateway.stores.cases.get(body["case_id"])).package["transcript"]
    assert [line["text"].split(" card")[0] for line in transcript] == [
        f"line {n}" for n in range(30)]
    assert "4111 1111" not in repr(transcript)


async def test_the_gateways_transcript_keeps_what_the_bot_understood(gateway: Gateway) -> None:
    for n, text in enumerate(["hi", "Hello!", "agent"]):
        await gateway.stores.transcripts.append(
            "web:abc", {"id": f"m{n}", "role": "bot" if n == 1 else "customer", "text": text,
                        "ts": float(n)}, limit=500)
    _, body = await post(gateway, a_package("web:abc"))  # its one line: "agent", human_handoff
    transcript = (await gateway.stores.cases.get(body["case_id"])).package["transcript"]
    assert [line.get("intent") for line in transcript] == [None, None, "human_handoff"]


async def test_a_package_transcript_longer_than_the_gateways_is_kept(gateway: Gateway) -> None:
    await gateway.stores.transcripts.append(
        "web:abc", {"id": "m0", "role": "customer", "text": "agent", "ts": 1.0}, limit=500)
    package = a_package("web:abc")
    package["transcript"] = [{"role": "customer", "text": f"said {n}", "ts": float(n)}
                             for n in range(3)]
    _, body = await post(gateway, package)
    transcript = (await gateway.stores.cases.get(body["case_id"])).package["transcript"]
    assert [line["text"] for line in transcript] == ["said 0", "said 1", "said 2"]
