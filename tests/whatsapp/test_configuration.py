"""The WhatsApp channel is on when its Twilio credentials and sender are in the environment; a
sender or template that is not what Twilio expects is a configuration error at start-up."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app import create_app
from bot.settings import Settings, SettingsError
from bot.stores import memory_stores
from channels.registry import SPECS
from channels.whatsapp import REQUIRED_ENV, WhatsAppConfig
from tests.conftest import Serve
from tests.whatsapp.conftest import whatsapp_env


def test_the_registry_requires_what_the_channel_needs() -> None:
    [spec] = [s for s in SPECS if s.name == "whatsapp"]
    assert spec.required_env == REQUIRED_ENV


@pytest.mark.parametrize(("path", "status"), [("/whatsapp/twilio", 403), ("/sms/twilio", 404)])
async def test_a_whatsapp_only_account_turns_on_whatsapp_alone(serve: Serve, path: str,
                                                               status: int) -> None:
    url = await serve(create_app(Settings(), stores=memory_stores(),
                                 env=whatsapp_env("http://127.0.0.1:9")))
    async with aiohttp.ClientSession() as http:
        async with http.post(url + path, data={"Body": "hi"}) as resp:
            assert resp.status == status  # 403: on, and the request is unsigned


@pytest.mark.parametrize(("name", "value"), [
    ("TWILIO_WHATSAPP_FROM", "+1 not a number"),
    ("TWILIO_WHATSAPP_TEMPLATE_SID", "my-template"),
])
def test_a_sender_or_template_twilio_would_refuse_is_a_configuration_error(
        name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        create_app(Settings(), stores=memory_stores(),
                   env=whatsapp_env("http://127.0.0.1:9", **{name: value}))


def test_a_sender_without_the_whatsapp_prefix_is_taken_as_the_number() -> None:
    config = WhatsAppConfig.from_env(whatsapp_env("http://x", TWILIO_WHATSAPP_FROM="+14155238886"))
    assert config.sender == "whatsapp:+14155238886"
