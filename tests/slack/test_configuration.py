"""The Slack channel is on only with both credentials; its settings come from the environment,
and the secrets never appear in logs."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from bot.app import create_app
from bot.settings import Settings
from bot.stores import memory_stores
from channels.slack import DEFAULT_API_URL, SlackConfig
from tests.conftest import Serve
from tests.fakes.slack_api import SIGNING_SECRET, TOKEN, dm
from tests.slack.conftest import SlackGateway, slack_env


@pytest.mark.parametrize("env", [
    {},
    {"SLACK_BOT_TOKEN": TOKEN},
    {"SLACK_SIGNING_SECRET": SIGNING_SECRET},
    {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": SIGNING_SECRET},
], ids=["nothing", "token only", "secret only", "empty token"])
async def test_without_credentials_the_channel_is_off(serve: Serve, env: dict[str, str],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="channels.registry")
    url = await serve(create_app(Settings(), stores=memory_stores(), env=env))
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/slack/events", json={"type": "url_verification"}) as resp:
            assert resp.status == 404
    assert "channel slack: off" in caplog.text


def test_with_both_credentials_the_channel_is_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="channels.registry")
    app = create_app(Settings(), stores=memory_stores(), env=slack_env("http://127.0.0.1:9/api"))
    assert "/slack/events" in {r.resource.canonical for r in app.router.routes() if r.resource}
    assert "channel slack: on" in caplog.text


@pytest.mark.parametrize("raw, expected", [
    (None, DEFAULT_API_URL),
    ("http://127.0.0.1:8000/api", "http://127.0.0.1:8000/api/"),
    ("http://127.0.0.1:8000/api/", "http://127.0.0.1:8000/api/"),
])
def test_the_api_url_is_configurable(raw: str | None, expected: str) -> None:
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    if raw is not None:
        env["SLACK_API_URL"] = raw
    assert SlackConfig.from_env(env).api_url == expected


def test_listened_channels_are_a_comma_separated_list() -> None:
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_CHANNELS": " C1, C2 ,,C3 "}
    assert SlackConfig.from_env(env).channels == {"C1", "C2", "C3"}


def test_the_config_does_not_show_its_secrets() -> None:
    config = SlackConfig(bot_token=TOKEN, signing_secret=SIGNING_SECRET)
    assert TOKEN not in repr(config) and SIGNING_SECRET not in repr(config)


async def test_secrets_never_reach_the_logs(gateway: SlackGateway,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.slack.fail("chat.postMessage", status=200, error="invalid_auth")
    await gateway.events.send(dm("hello"))
    await gateway.events.send(dm("hello"), signature="invalid")
    await gateway.engine.idle()
    assert caplog.records
    assert TOKEN not in caplog.text and SIGNING_SECRET not in caplog.text
