"""Long polling, for development without a public URL (TELEGRAM_MODE=polling): a background task
removes any webhook, then calls getUpdates with an offset that confirms what was handled, and feeds
the same handling path as the webhook. It stops when the gateway shuts down."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.app import create_app
from bot.settings import Settings
from bot.stores import memory_stores
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram_api import FakeTelegramAPI, Updates
from tests.telegram.conftest import Gateway, MakeGateway, eventually

POLLING = {"TELEGRAM_MODE": "polling", "TELEGRAM_WEBHOOK_SECRET": ""}


@pytest.fixture
async def polling(make_gateway: MakeGateway) -> Gateway:
    return await make_gateway(env=POLLING)


async def test_polled_updates_are_answered(polling: Gateway) -> None:
    gateway = polling
    gateway.api.queue_update(gateway.updates.message("where is my parcel"))
    [reply] = await gateway.replies(1)
    assert reply["text"] == "You said: where is my parcel"


async def test_an_existing_webhook_is_deleted_before_polling(make_gateway: MakeGateway,
                                                             fake_telegram: tuple[FakeTelegramAPI, str]) -> None:
    api: FakeTelegramAPI = fake_telegram[0]
    api.webhook = {"url": "https://old.example.com/telegram/webhook"}
    gateway = await make_gateway(env=POLLING)
    gateway.api.queue_update(gateway.updates.message("hi"))
    await gateway.replies(1)
    polled = [c.method for c in api.calls if c.method in ("deleteWebhook", "getUpdates")]
    assert polled[0] == "deleteWebhook" and "getUpdates" in polled
    assert api.webhook is None


async def test_handled_updates_are_confirmed_and_answered_once(polling: Gateway) -> None:
    gateway = polling
    first, second = gateway.updates.message("one"), gateway.updates.message("two")
    gateway.api.queue_update(first)
    gateway.api.queue_update(second)
    await gateway.replies(2)
    confirmed = second["update_id"] + 1
    await eventually(lambda: any(c.params.get("offset") == confirmed
                                 for c in gateway.api.calls_to("getUpdates")))
    await gateway.settle()
    assert gateway.rasa.texts() == ["one", "two"]
    assert len(gateway.api.sent()) == 2


async def test_polling_rides_out_rate_limits_and_server_errors(polling: Gateway) -> None:
    gateway = polling
    gateway.api.fail("getUpdates", status=429, description="Too Many Requests: retry after 1",
                     retry_after=1)
    gateway.api.fail("getUpdates", status=502, description="Bad Gateway")
    # Both failures met before the update exists (a long poll already in flight would
    # otherwise hand it over first, and the failures would come after the reply).
    await eventually(lambda: len(gateway.api.calls_to("getUpdates", failed=True)) == 2)
    gateway.api.queue_update(gateway.updates.message("still there?"))
    [reply] = await gateway.replies(1)
    assert reply["text"] == "You said: still there?"


async def test_no_webhook_route_in_polling_mode(polling: Gateway) -> None:
    assert await polling.post(polling.updates.message("hi")) == 404


async def test_polling_stops_when_the_gateway_shuts_down(fake_rasa: tuple[FakeRasa, str],
                                                        fake_telegram: tuple[FakeTelegramAPI, str],
                                                        telegram_env: dict[str, str]) -> None:
    api = fake_telegram[0]
    app = create_app(Settings(rasa_url=fake_rasa[1]), stores=memory_stores(),
                     env={**telegram_env, **POLLING})
    runner = web.AppRunner(app)
    await runner.setup()  # runs the startup hooks, which start the poller
    try:
        await eventually(lambda: api.calls_to("getUpdates"))
    finally:
        await runner.cleanup()
    polls = len(api.calls_to("getUpdates"))
    api.queue_update(Updates().message("anyone?"))
    # Nothing to wait for: the check is that nothing happens during a few long-poll periods.
    await asyncio.sleep(3 * api.long_poll_cap_s)
    assert len(api.calls_to("getUpdates")) == polls
    assert api.sent() == []
