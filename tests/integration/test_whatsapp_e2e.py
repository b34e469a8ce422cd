"""WhatsApp on the real stack: the processes `make run` starts (trained model, Rasa server, action
server, demo backend, gateway) with the WhatsApp channel on, and a fake Twilio (in a thread of
this process) carrying the messages: signed webhooks in, the Messages resource out, signed status
callbacks back. A customer tracks an order; another asks for a person, and an agent answers them
from the console and hands them back to the bot."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import pytest
from aiohttp import web

from bot.stack import Ports, Stack
from tests.fakes.twilio_api import FakeTwilio

pytestmark = pytest.mark.integration

TURN_TIMEOUT_S = 60.0


class ThreadedTwilio:
    """The fake Twilio served from its own event loop in a thread: the stack's gateway is another
    process and calls it while the tests' loops come and go."""

    def __init__(self) -> None:
        self.fake = FakeTwilio()
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.url = ""
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self._thread.start()
        assert started.wait(10), "the fake Twilio did not start"

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self._runner = web.AppRunner(self.fake.app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

        self.loop.run_until_complete(start())
        started.set()
        self.loop.run_forever()

    def call(self, coro: Any, timeout_s: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def twilio() -> Iterator[ThreadedTwilio]:
    served = ThreadedTwilio()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, twilio: ThreadedTwilio) -> Iterator[Stack]:
    running = Stack(ports=Ports.free(), state_dir=Path(tmp_path_factory.mktemp("whatsapp")),
                    extra_env=twilio.fake.whatsapp_env(twilio.url), say=lambda line: None)
    try:
        asyncio.run(running.start())
    except BaseException:
        running.stop()
        raise
    twilio.fake.gateway_url = running.gateway_url  # status callbacks reach the stack's gateway
    yield running
    running.stop()


class WhatsAppCustomer:
    def __init__(self, stack: Stack, twilio: ThreadedTwilio) -> None:
        self.number = f"+4477008{random.randrange(10**5):05d}"  # a fresh tracker per run
        self.address = f"whatsapp:{self.number}"
        self.stack, self.twilio = stack, twilio
        self.sent = 0
        self._seen = 0  # messages already looked at by `expect`

    async def say(self, text: str) -> None:
        self.sent += 1
        status, _, _ = self.twilio.call(self.twilio.fake.whatsapp(
            self.stack.gateway_url, sender=self.number, body=text,
            sid=f"SM{self.number[1:]}{self.sent:020d}"))
        assert status == 200

    def received(self) -> list[str]:
        return self.twilio.fake.bodies(self.address)

    async def expect(self, fragment: str) -> str:
        """The first message received from now on that contains `fragment` (older ones are not
        looked at again)."""
        deadline = time.monotonic() + TURN_TIMEOUT_S
        while time.monotonic() < deadline:
            for body in self.received()[self._seen:]:
                self._seen += 1
                if fragment in body:
                    return body
            await asyncio.sleep(0.1)
        raise AssertionError(f"no WhatsApp message with {fragment!r}; got {self.received()}")


@pytest.fixture
def customer(stack: Stack, twilio: ThreadedTwilio) -> WhatsAppCustomer:
    return WhatsAppCustomer(stack, twilio)


async def test_order_status_on_whatsapp(customer: WhatsAppCustomer) -> None:
    await customer.say("where is my order")
    await customer.expect("order number")
    await customer.say("482913")
    await customer.expect("email address or phone number")
    await customer.say("jane.doe@example.com")
    answer = await customer.expect("has shipped")
    assert "UPS" in answer
    sent = [m for m in customer.twilio.fake.sent if m["To"] == customer.address]
    assert all(m["From"] == "whatsapp:+14155238886" and len(m["Body"]) <= 1600 for m in sent)
    assert all(m["StatusCallback"].endswith("/whatsapp/twilio/status") for m in sent)


async def test_an_agent_answers_a_whatsapp_customer_from_the_console(
        stack: Stack, customer: WhatsAppCustomer) -> None:
    await customer.say("agent")
    told = await customer.expect("case C-")
    case_id = told.split("case ", 1)[1][:10]
    email, password = stack.demo_agent
    # unsafe: the console's session cookie comes from an IP address (127.0.0.1)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        headers = {"Origin": stack.gateway_url}
        api = f"{stack.gateway_url}/console/api"

        async def call(method: str, path: str, body: Any = None) -> Any:
            async with http.request(method, api + path, json=body, headers=headers) as resp:
                assert resp.status == 200, (path, resp.status, await resp.text())
                return await resp.json()

        await call("POST", "/login", {"email": email, "password": password})
        [card] = [c for c in (await call("GET", "/cases"))["cases"] if c["case_id"] == case_id]
        assert card["channel"] == "whatsapp"
        assert card["reply_until"] is not None and card["reply_until"] > time.time() + 23 * 3600
        await call("POST", f"/cases/{case_id}/claim")
        await customer.expect("from our support team has joined the chat")
        await call("POST", f"/cases/{case_id}/reply",
                   {"text": "Hi, I'm looking at your order now 👍"})
        assert await customer.expect("Support agent: Hi, I'm looking at your order now 👍")
        await customer.say("thanks!")
        await call("POST", f"/cases/{case_id}/return")
        await customer.expect("back with the automated assistant")
