"""The intake a channel is given (bot/channel_port.py): bound to its channel, its state kept under
its own name, its configuration from the environment like every channel's."""

from __future__ import annotations

import aiohttp
import pytest

from bot.messages import InboundMessage
from bot.stores import memory_stores
from tests.fakes.rasa import FakeRasa
from tests.gateway.conftest import Gateway
from tests.gateways import start_gateway


async def test_a_channel_cannot_hand_in_another_channels_message(gateway: Gateway) -> None:
    sms = gateway.engine.intake_for("sms")
    with pytest.raises(ValueError, match="sms channel handed in a web message"):
        await sms.accept(InboundMessage(channel="web", conversation_id="web:x", customer_id="web:x",
                                        text="hi", platform_message_id="m1"))
    assert await gateway.stores.journal.conversations() == []


async def test_what_one_channel_has_seen_is_its_own(gateway: Gateway) -> None:
    sms, telegram = gateway.engine.intake_for("sms"), gateway.engine.intake_for("telegram")
    assert await sms.first_seen("keyword:1") is True
    assert await sms.first_seen("keyword:1") is False
    assert await telegram.first_seen("keyword:1") is True


@pytest.mark.parametrize(("origin", "status"), [("https://shop.example", 101),
                                                ("https://evil.example", 403)])
async def test_the_web_chat_takes_extra_origins_from_the_environment(
        fake_rasa: tuple[FakeRasa, str], origin: str, status: int) -> None:
    rasa, rasa_url = fake_rasa
    running = await start_gateway(rasa, rasa_url, stores=memory_stores(),
                                  env={"WEBCHAT_ALLOWED_ORIGINS": "https://shop.example, "})
    try:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(f"{running.url}/webchat/ws",
                                           headers={"Origin": origin}) as ws:
                    got = 101 if not ws.closed else 0
            except aiohttp.WSServerHandshakeError as exc:
                got = exc.status
        assert got == status
    finally:
        await running.stop()
