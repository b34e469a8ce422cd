"""The channel is on when TELEGRAM_BOT_TOKEN is set (webhook mode also needs
TELEGRAM_WEBHOOK_SECRET), off without it, and a half-done configuration fails loudly at start
without echoing secrets."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

from bot.app import create_app
from bot.settings import Settings, SettingsError
from bot.stores import memory_stores
from tests.fakes.telegram_api import TOKEN
from tests.telegram.conftest import SECRET, MakeGateway

WEBHOOK = "/telegram/webhook"


def routes(env: dict[str, str]) -> set[str]:
    app: web.Application = create_app(Settings(), stores=memory_stores(), env=env)
    return {r.canonical for r in app.router.resources()}


@pytest.mark.parametrize("env", [
    {},
    {"TELEGRAM_BOT_TOKEN": ""},
    {"TELEGRAM_WEBHOOK_SECRET": SECRET},
], ids=["nothing", "empty-token", "secret-only"])
def test_without_a_token_the_channel_is_off(env: dict[str, str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="channels.registry")
    assert WEBHOOK not in routes(env)
    assert "channel telegram: off (TELEGRAM_BOT_TOKEN not set)" in caplog.text


def test_with_token_and_secret_the_webhook_is_mounted() -> None:
    assert WEBHOOK in routes({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET})


@pytest.mark.parametrize("env, complaint", [
    ({"TELEGRAM_BOT_TOKEN": TOKEN}, "TELEGRAM_WEBHOOK_SECRET is required"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "has spaces & symbols!"},
     "TELEGRAM_WEBHOOK_SECRET may only use"),
    ({"TELEGRAM_BOT_TOKEN": "not-a-token", "TELEGRAM_WEBHOOK_SECRET": SECRET},
     "TELEGRAM_BOT_TOKEN must look like"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_MODE": "push"},
     "TELEGRAM_MODE must be webhook or polling"),
], ids=["no-secret", "bad-secret", "bad-token", "bad-mode"])
def test_a_half_done_configuration_fails_loudly(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint) as failure:
        routes(env)
    assert TOKEN.split(":")[1] not in str(failure.value)
    assert "has spaces" not in str(failure.value)


async def test_the_token_and_secret_never_reach_the_logs(caplog: pytest.LogCaptureFixture,
                                                         make_gateway: MakeGateway) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = await make_gateway()
    await gateway.say("where is my parcel")
    await gateway.replies(1)
    await gateway.post(gateway.updates.message("forged"), secret="wrong")
    assert "telegram webhook with a wrong secret token refused" in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
    assert SECRET not in caplog.text
