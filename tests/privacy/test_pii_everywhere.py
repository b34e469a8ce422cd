"""A customer on each channel types a card number, a password, a one-time code, an e-mail address
and a phone number, then asks for a person; an agent works the case in the console and the Slack
inbox mirrors it. None of it appears in the gateway's logs (every logger, DEBUG and up, through
the project's log redaction), in anything the gateway keeps in Redis, or in anything an agent
sees (console API, Slack inbox channel), except the contacts masked ("a***@example.net",
"[phone ***0456]"). The customer's own channel may echo what they wrote; nothing else may."""

from __future__ import annotations

import json
import logging
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.log_redaction import install, uninstall
from bot.stores import redis_stores
from tests.conftest import REDIS_URL
from tests.handoff.conftest import (Customer, Gateway, MakeAgent, MakeCustomer, MakeGateway,
                                    eventually, hand_off)

INBOX = "CPRIVACYINBOX"
SEEDS = [
    "my card is 4111 1111 1111 1111 and it was charged",
    "my password is Hunter2!secret",
    "the verification code is 493817",
    "email me at alice.walker@example.net",
    "or call me on +44 7700 900456",
]
NEVER = ["4111 1111 1111 1111", "4111111111111111", "Hunter2!secret", "493817",
         "alice.walker@example.net", "7700 900456", "447700900456"]
MASKED = ["a***@example.net", "[phone ***0456]"]


@pytest.fixture
def redacted_logs(caplog: pytest.LogCaptureFixture) -> AsyncIterator[pytest.LogCaptureFixture]:
    """Every log record of the gateway, as the production processes write them."""
    install()
    caplog.set_level(logging.DEBUG)
    yield caplog
    uninstall()


@pytest.fixture
async def gateway(make_gateway: MakeGateway, redis_prefix: str) -> Gateway:
    running = await make_gateway(stores=redis_stores(REDIS_URL, prefix=redis_prefix),
                                 env={"SLACK_INBOX_CHANNEL": INBOX})
    running.fakes.slack.members[INBOX] = ["UBOT", "UAGENT"]
    return running


async def everything_in_redis(prefix: str) -> str:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    found: list[str] = []
    async for key in client.scan_iter(match=prefix + "*"):
        kind = await client.type(key)
        found.append(key)
        if kind == "string":
            found.append(str(await client.get(key)))
        elif kind == "list":
            found.extend(await client.lrange(key, 0, -1))
        elif kind == "hash":
            found.append(json.dumps(await client.hgetall(key)))
        elif kind == "set":
            found.extend(await client.smembers(key))
        elif kind == "zset":
            found.extend(await client.zrange(key, 0, -1))
        elif kind == "stream":
            found.append(json.dumps(await client.xrange(key)))
    await client.aclose()
    return "\n".join(found)


def leaks(text: str) -> list[str]:
    return [secret for secret in NEVER if secret in text]


async def seeded(customer: Customer) -> None:
    for text in SEEDS:
        await customer.say(text)
        await customer.expect("You said:")  # the fake bot echoes; the customer's own channel


@pytest.mark.parametrize("channel", ["web", "slack", "telegram", "sms", "whatsapp"])
async def test_what_a_customer_types_leaks_nowhere(
        channel: str, gateway: Gateway, make_customer: MakeCustomer, make_agent: MakeAgent,
        redacted_logs: pytest.LogCaptureFixture, redis_prefix: str) -> None:
    customer = await make_customer(gateway, channel)
    await seeded(customer)
    case = await hand_off(customer)
    agent = await make_agent(gateway)
    await agent.act(case.case_id, "claim")
    await customer.say("and my pin is 7731, can you see my order?")
    await gateway.settle()
    detail = await agent.case(case.case_id)
    queue = await agent.cases()
    await eventually(lambda: any(p.get("channel") == INBOX for p in gateway.fakes.slack.posts()),
                     what="the case's parent message in the inbox")
    await gateway.settle()
    slack_inbox = "\n".join(json.dumps(p) for p in gateway.fakes.slack.posts()
                            if p.get("channel") == INBOX)
    seen_by_agents = json.dumps(detail) + json.dumps(queue) + slack_inbox

    assert leaks(redacted_logs.text) == []
    assert leaks(await everything_in_redis(redis_prefix)) == []
    assert leaks(seen_by_agents) == []
    assert "7731" not in seen_by_agents
    assert all(masked in json.dumps(detail) for masked in MASKED)


def test_the_seeds_would_be_caught_if_they_leaked() -> None:
    # The check above is only as good as its list: every seed holds a secret it looks for.
    assert all(leaks(seed) for seed in SEEDS)
