"""Only requests signed by Slack with the signing secret, within bolt's 5-minute replay window,
reach the assistant."""

from __future__ import annotations

import json

import pytest

from tests.fakes.slack_api import Signature, dm, signature_headers
from tests.slack.conftest import SlackGateway

CHALLENGE = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


async def test_a_signed_event_is_accepted_and_answered(gateway: SlackGateway) -> None:
    assert await gateway.events.send(dm("hello there")) == 200
    await gateway.slack.wait_for_posts(1)
    assert gateway.rasa.texts() == ["hello there"]


@pytest.mark.parametrize("signature", ["invalid", "missing", "stale"])
async def test_an_unverified_event_is_refused_and_never_reaches_rasa(
        gateway: SlackGateway, signature: Signature) -> None:
    assert await gateway.events.send(dm("hello there"), signature=signature) == 401
    await gateway.engine.idle()
    assert gateway.rasa.received == []
    assert gateway.slack.posts() == []


async def test_a_body_changed_after_signing_is_refused(gateway: SlackGateway) -> None:
    body = json.dumps({"type": "event_callback", "team_id": "T0001", "event": dm("hi")})
    headers = signature_headers(body, "valid")
    tampered = body.replace('"hi"', '"/human_handoff"')
    async with gateway.events.http.post(
            f"{gateway.url}/slack/events", data=tampered.encode(),
            headers={"Content-Type": "application/json", **headers}) as resp:
        assert resp.status == 401
    await gateway.engine.idle()
    assert gateway.rasa.received == []


async def test_the_url_verification_challenge_is_answered(gateway: SlackGateway) -> None:
    body = json.dumps({"token": "legacy", "challenge": CHALLENGE, "type": "url_verification"})
    status, text = await gateway.events.post(body, content_type="application/json")
    assert status == 200
    assert json.loads(text) == {"challenge": CHALLENGE}


async def test_an_unsigned_url_verification_is_refused(gateway: SlackGateway) -> None:
    body = json.dumps({"token": "legacy", "challenge": CHALLENGE, "type": "url_verification"})
    status, text = await gateway.events.post(body, content_type="application/json",
                                             signature="missing")
    assert status == 401
    assert CHALLENGE not in text
