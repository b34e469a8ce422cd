"""The SMS channel is on only when its credentials are in the environment; replies come from
TWILIO_FROM_NUMBER or, instead, a Messaging Service; the Auth Token never appears in logs."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from bot.app import create_app
from bot.settings import Settings, SettingsError
from bot.stores import memory_stores
from channels.registry import SPECS
from channels.sms import REQUIRED_ENV, SENDER_ENV
from tests.conftest import Serve
from tests.fakes.twilio_api import AUTH_TOKEN
from tests.sms.conftest import MakeGateway, SmsGateway, sms_env

SERVICE_SID = "MG" + "a" * 32


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                                     "PUBLIC_BASE_URL"])
async def test_the_channel_is_off_without_its_credentials(
        serve: Serve, missing: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="channels.registry")
    env = {k: v for k, v in sms_env("http://127.0.0.1:9").items() if k != missing}
    url = await serve(create_app(Settings(), stores=memory_stores(), env=env))
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/sms/twilio", data={"Body": "hi"}) as resp:
            assert resp.status == 404
    assert f"channel sms: off ({missing} not set)" in caplog.text


async def test_the_channel_is_off_with_an_empty_environment(serve: Serve) -> None:
    url = await serve(create_app(Settings(), stores=memory_stores(), env={}))
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/sms/twilio", data={"Body": "hi"}) as resp:
            assert resp.status == 404


def test_the_registry_requires_what_the_channel_needs() -> None:
    [spec] = [s for s in SPECS if s.name == "sms"]
    assert (spec.required_env, spec.any_env) == (REQUIRED_ENV, SENDER_ENV)


async def test_twilio_credentials_without_an_sms_sender_leave_sms_off(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    # A Twilio account used for WhatsApp only.
    env = sms_env("http://127.0.0.1:9", TWILIO_FROM_NUMBER="")
    caplog.set_level(logging.INFO, logger="channels.registry")
    url = await serve(create_app(Settings(), stores=memory_stores(), env=env))
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/sms/twilio", data={"Body": "hi"}) as resp:
            assert resp.status == 404
    assert "channel sms: off (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID not set)" \
        in caplog.text


def test_a_public_base_url_without_scheme_is_a_configuration_error() -> None:
    env = sms_env("http://127.0.0.1:9", PUBLIC_BASE_URL="help.example.com")
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        create_app(Settings(), stores=memory_stores(), env=env)


async def test_replies_can_come_from_a_messaging_service(make_gateway: MakeGateway) -> None:
    sms = await make_gateway(TWILIO_FROM_NUMBER="", TWILIO_MESSAGING_SERVICE_SID=SERVICE_SID)
    await sms.text("hi")
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in sent


async def test_the_auth_token_is_never_logged(sms: SmsGateway,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sms.twilio.fail_next(401, code=20003, message="Authenticate")
    await sms.text("hi")
    await sms.settle()
    await sms.text("hello again")
    await sms.twilio.wait_for_sent(1)
    params = sms.twilio.inbound_params(sender="+447700900999", body="forged", sid="SMx")
    assert (await sms.twilio.post_webhook(sms.url, params, signature="forged"))[0] == 403
    assert caplog.text and AUTH_TOKEN not in caplog.text


async def test_the_twilio_client_logs_no_request_of_its_own(sms: SmsGateway,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    # twilio's client formats a dozen lines per send (numbers and bodies in them), even when the
    # level drops them; the channel logs one line of its own per send instead.
    caplog.set_level(logging.DEBUG)
    await sms.text("hi")
    await sms.twilio.wait_for_sent(1)
    await sms.settle()
    twilio_records = [r for r in caplog.records if r.name.startswith("twilio")]
    assert twilio_records == []
    assert any(r.name == "channels.sms" and "sent as" in r.getMessage() for r in caplog.records)
