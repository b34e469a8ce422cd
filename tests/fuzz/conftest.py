"""Fuzz fixtures: one running gateway per test module with every channel on (Slack with its agent
inbox, Telegram, SMS and the web chat, each pointed at its local fake platform API), the agent
console with two accounts, and a fake Rasa behind it. Module-scoped, so a hundred examples share
one gateway (tests run in the module's event loop: `pytest.mark.asyncio(loop_scope="module")`).

`intake` records every message a channel handed to the engine: the explicit signal that an
unauthenticated request got nowhere (together with the fake Rasa's own counters)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Sequence

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from bot.messages import InboundMessage
from bot.stores import memory_stores
from inbox.agents import hash_password
from tests.fakes import slack_api, telegram_api
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilio
from tests.gateways import HANDOFF_SECRET, Running, start_gateway
from tests.serving import Stop, start_app

__all__ = ["AGENT", "AGENT_PASSWORD", "GUESSED", "HANDOFF_SECRET", "SLACK_INBOX",
           "TELEGRAM_SECRET", "Fuzzed", "failed_on_our_side", "tracebacks"]

TELEGRAM_SECRET = "fuzz-telegram-webhook-secret_01"
SLACK_INBOX = "CINBOX"  # the agents' Slack channel: its listeners share the events route
AGENT, AGENT_PASSWORD = "ana@northwind.example", "ana-correct-horse"
# The sign-in fuzz guesses Bo's password (and locks his account); Ana's session stays usable.
GUESSED = "bo@northwind.example"


@dataclass
class CountingRasa(FakeRasa):
    """The fake Rasa, also counting /model/parse calls (the console's suggested replies)."""

    parsed: list[str] = field(default_factory=list)

    def parse(self, text: str) -> dict[str, Any]:
        self.parsed.append(text)
        return super().parse(text)


@dataclass
class Intake:
    """What the channels handed to the engine (spied on this gateway's engine instance)."""

    messages: list[InboundMessage] = field(default_factory=list)


@dataclass
class Fuzzed:
    """The gateway under fuzz and the fakes around it."""

    running: Running
    rasa: CountingRasa
    slack: FakeSlackApi
    telegram: FakeTelegramAPI
    twilio: FakeTwilio
    intake: Intake
    http: aiohttp.ClientSession

    def __repr__(self) -> str:  # hypothesis prints it with every failing example
        return f"Fuzzed({self.url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    @property
    def url(self) -> str:
        return self.running.url

    async def settle(self) -> None:
        await self.running.engine.idle()

    async def nothing_got_in(self, *, intake_before: int, rasa_before: int) -> None:
        """Nothing new reached the engine, the journal or Rasa (after letting work finish)."""
        await self.settle()
        assert self.intake.messages[intake_before:] == []
        assert self.rasa.received[rasa_before:] == []
        assert await self.running.stores.journal.conversations() == []


def failed_on_our_side(status: int) -> bool:
    """A 5xx other than the explicit 503 "store unavailable, try again"."""
    return status >= 500 and status != 503


def tracebacks(records: Sequence[logging.LogRecord]) -> list[str]:
    """Records that report an unhandled exception: ERROR or worse with a traceback attached."""
    return [f"{r.name}: {r.getMessage()}" for r in records
            if r.levelno >= logging.ERROR and (r.exc_info or r.exc_text)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fuzzed() -> AsyncIterator[Fuzzed]:
    stops: list[Stop] = []

    async def serve(app: web.Application) -> str:
        url, stop = await start_app(app)
        stops.append(stop)
        return url

    rasa, telegram, twilio = CountingRasa(), FakeTelegramAPI(), FakeTwilio()
    slack = FakeSlackApi(members={SLACK_INBOX: ["UAGENT"]})
    rasa_url = await serve(rasa.app())
    env = {
        "AGENT_ACCOUNTS": f"{AGENT}:{hash_password(AGENT_PASSWORD)},"
                          f"{GUESSED}:{hash_password('bo-battery-staple')}",
        "SLACK_BOT_TOKEN": slack_api.TOKEN, "SLACK_SIGNING_SECRET": slack_api.SIGNING_SECRET,
        "SLACK_API_URL": f"{await serve(slack.app())}/api/",
        "SLACK_CHANNELS": slack_api.SUPPORT_CHANNEL, "SLACK_INBOX_CHANNEL": SLACK_INBOX,
        "TELEGRAM_BOT_TOKEN": telegram_api.TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": await serve(telegram.app()),
        **twilio.channel_env(await serve(twilio.app())),
    }
    # Failed sign-ins are counted per client address: the fuzz says it is a new client each time
    # (X-Forwarded-For), so the throttle does not hide the parser behind a 429.
    running = await start_gateway(rasa, rasa_url, stores=memory_stores(), env=env,
                                  trust_forwarded_for=True, pending_retry_interval_s=3600.0)
    intake = Intake()
    accept = running.engine.accept

    async def spy(message: InboundMessage) -> bool:
        intake.messages.append(message)
        return await accept(message)

    running.engine.accept = spy  # type: ignore[method-assign]
    async with aiohttp.ClientSession() as http:
        yield Fuzzed(running=running, rasa=rasa, slack=slack, telegram=telegram, twilio=twilio,
                     intake=intake, http=http)
    await running.stop()
    for stop in reversed(stops):
        await stop()


@pytest.fixture
def quiet_caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog at WARNING: every record that matters here, without the INFO chatter of each
    example."""
    caplog.set_level(logging.WARNING)
    return caplog
