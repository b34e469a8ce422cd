"""The webhook is Telegram's only way in: an update counts only with the secret token that
setWebhook registered (X-Telegram-Bot-Api-Secret-Token), compared in constant time. A refused
update reaches neither Rasa nor the de-duplication store."""

from __future__ import annotations

import pytest

from tests.telegram.conftest import SECRET, Gateway


async def test_update_with_the_registered_secret_is_answered(gateway: Gateway) -> None:
    await gateway.say("where is my parcel")
    [reply] = await gateway.replies(1)
    assert reply["text"] == "You said: where is my parcel"
    assert gateway.rasa.texts() == ["where is my parcel"]


@pytest.mark.parametrize("secret, status", [
    (None, 401),
    ("", 403),
    ("wrong-secret", 403),
    (SECRET + "x", 403),
    (SECRET.upper(), 403),
], ids=["missing", "empty", "wrong", "longer", "wrong-case"])
async def test_update_without_the_right_secret_is_refused(gateway: Gateway, secret: str | None,
                                                          status: int) -> None:
    update = gateway.updates.message("where is my parcel")
    assert await gateway.post(update, secret=secret) == status
    await gateway.settle()
    assert gateway.rasa.received == []
    assert gateway.api.sent() == []


async def test_a_refused_forgery_does_not_block_the_genuine_delivery(gateway: Gateway) -> None:
    update = gateway.updates.message("where is my parcel")
    assert await gateway.post(update, secret="forged") == 403
    assert await gateway.post(update) == 200
    await gateway.replies(1)
    assert gateway.rasa.texts() == ["where is my parcel"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"message": {"text": "hi"}}'],
                         ids=["not-json", "not-an-object", "no-update-id"])
async def test_a_body_that_is_not_an_update_is_rejected(gateway: Gateway, body: bytes) -> None:
    async with gateway.http.post(f"{gateway.url}/telegram/webhook", data=body, headers={
            "X-Telegram-Bot-Api-Secret-Token": SECRET,
            "Content-Type": "application/json"}) as resp:
        assert resp.status == 400
    assert gateway.rasa.received == []
