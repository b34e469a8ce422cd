"""Handoff latency: how fast a new case shows up in the inboxes, and how fast an agent's reply
reaches the customer.

A handoff is only as good as its slowest hop: the customer is told "a person will reply right
here", so the case must appear in front of agents at once, and what an agent writes must reach the
customer's chat without a noticeable lag. This measures both on loopback with the real gateway app
(bot.app.create_app, memory stores) configured with one console agent account and the Slack inbox
on, pointed at the test suite's fake Slack Web API and fake Rasa:

  trigger -> console     from POSTing a context package to /handoff/v1/cases (as the action
                         server does) until a signed-in agent's /console/ws gets the "opened" event
  trigger -> Slack       ... until the fake Slack API has handled the case's parent message
                         (chat.postMessage in SLACK_INBOX_CHANNEL)
  console reply -> chat  from the agent's POST /console/api/cases/{id}/reply until the customer's
                         web chat websocket (tests/chat_client.py) gets the role "agent" message
  Slack reply -> chat    from Slack's signed event callback for an inbox member's reply in the
                         case's thread until the customer's websocket gets that message

N cases run one after another, each in its own web chat conversation. A case has one agent, so the
reply path alternates: even cases are claimed and answered in the console, odd ones are claimed
with the parent message's Claim button and answered in its Slack thread (so each reply row has
about N/2 samples). Each timed step starts with the gateway idle (the inbox's background Slack
calls of the previous step finished). Times are perf_counter stamps taken when the frame or call
is handled on the receiving side; the table gives p50, p99, max and mean in milliseconds.

    python -m benchmarks.handoff_latency [--cases 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

import aiohttp
from aiohttp import web

from benchmarks.results import write_results
from benchmarks.webchat_roundtrip import percentile
from bot.app import STORES_KEY, create_app
from bot.settings import Settings
from bot.stores import memory_stores
from inbox.agents import hash_password
from inbox.slack_inbox import SLACK_INBOX_KEY
from tests.chat_client import ChatClient
from tests.fakes.rasa import FakeRasa
from tests.serving import Stop, start_app
from tests.fakes.slack_api import ApiCall, FakeSlackApi, SlackSender, channel_message
from tests.slack_inbox.conftest import AGENT, INBOX, a_package, inbox_env

HANDOFF_SECRET = "bench-handoff-secret"
EMAIL, PASSWORD = "ana@northwind.example", "bench-correct-horse"
WAIT_S = 10.0  # a step that takes longer than this is a failure, not a sample

T = TypeVar("T")


class Feed(Generic[T]):
    """Things as they arrive, each with the perf_counter stamp of its arrival."""

    def __init__(self) -> None:
        self.items: list[tuple[float, T]] = []
        self._changed = asyncio.Event()

    def add(self, item: T) -> None:
        self.items.append((time.perf_counter(), item))
        self._changed.set()

    async def first(self, match: Callable[[T], bool], since: int, what: str) -> tuple[float, T]:
        """The first item from index `since` on that matches (waiting for it if need be)."""
        async def find() -> tuple[float, T]:
            seen = since
            while True:
                for stamp, item in self.items[seen:]:
                    if match(item):
                        return stamp, item
                seen = len(self.items)
                self._changed.clear()
                await self._changed.wait()
        try:
            return await asyncio.wait_for(find(), WAIT_S)
        except TimeoutError:
            raise RuntimeError(f"no {what} within {WAIT_S:.0f} s") from None


@dataclass
class TimedSlackApi(FakeSlackApi):
    """The fake Slack Web API, stamping each call when it has been handled."""

    feed: Feed[ApiCall] = field(default_factory=Feed)

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        self.feed.add(self.calls[-1])  # appended just before the return: no await in between
        return response


async def serve(app: web.Application, stops: list[Stop]) -> str:
    url, stop = await start_app(app)
    stops.append(stop)
    return url


async def read_into(ws: aiohttp.ClientWebSocketResponse, feed: Feed[dict[str, Any]]) -> None:
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            feed.add(msg.json())


async def agent_message(chat: ChatClient) -> float:
    """When the customer's tab receives the next message written by an agent."""
    while True:
        frame = await chat.next("message", timeout=WAIT_S)
        if frame["role"] == "agent":
            return time.perf_counter()


async def system_message(chat: ChatClient) -> None:
    while (await chat.next("message", timeout=WAIT_S))["role"] != "system":
        pass


def ms(start: float, end: float) -> float:
    return (end - start) * 1000


ROWS = ("handoff POST -> 201", "trigger -> console ws", "trigger -> Slack parent",
        "console reply -> customer", "Slack thread reply -> customer")


async def run(cases: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {row: [] for row in ROWS}
    stops: list[Stop] = []
    slack = TimedSlackApi(members={INBOX: ["UBOT", AGENT]})
    console: Feed[dict[str, Any]] = Feed()
    reader: asyncio.Task[None] | None = None
    try:
        rasa_url = await serve(FakeRasa().app(), stops)
        slack_url = await serve(slack.app(), stops)
        env = {**inbox_env(f"{slack_url}/api/"),
               "AGENT_ACCOUNTS": f"{EMAIL}:{hash_password(PASSWORD)}"}
        app = create_app(Settings(rasa_url=rasa_url, handoff_secret=HANDOFF_SECRET),
                         stores=memory_stores(), env=env)
        url = await serve(app, stops)
        stores, inbox = app[STORES_KEY], app[SLACK_INBOX_KEY]
        origin = {"Origin": url}
        auth = {"Authorization": f"Bearer {HANDOFF_SECRET}"}
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{url}/console/api/login", headers=origin,
                                 json={"email": EMAIL, "password": PASSWORD}) as resp:
                assert resp.status == 200, await resp.text()
            agent_ws = await http.ws_connect(f"{url}/console/ws")
            reader = asyncio.create_task(read_into(agent_ws, console))
            await console.first(lambda f: f["type"] == "hello", 0, "console hello")
            events = SlackSender(http, url)

            for i in range(cases):
                chat = ChatClient(await http.ws_connect(f"{url}/webchat/ws"))
                try:
                    await chat.hello()
                    conversation_id = await stores.sessions.get(chat.session or "")
                    assert conversation_id is not None
                    await inbox.idle()

                    # trigger -> visible in both inboxes
                    console_mark, slack_mark = len(console.items), len(slack.feed.items)
                    started = time.perf_counter()
                    async with http.post(f"{url}/handoff/v1/cases", headers=auth,
                                         json=a_package(conversation_id)) as resp:
                        receipt = await resp.json()
                        assert resp.status == 201, receipt
                    samples[ROWS[0]].append(ms(started, time.perf_counter()))
                    case_id = str(receipt["case_id"])
                    seen, _ = await console.first(
                        lambda f: f["type"] == "event" and f["kind"] == "opened"
                        and f["case_id"] == case_id, console_mark, f"console event of {case_id}")
                    samples[ROWS[1]].append(ms(started, seen))
                    posted, parent = await slack.feed.first(
                        lambda c: c.method == "chat.postMessage" and c.ok
                        and c.body.get("channel") == INBOX and not c.body.get("thread_ts")
                        and case_id in str(c.body.get("text")),
                        slack_mark, f"Slack parent of {case_id}")
                    samples[ROWS[2]].append(ms(started, posted))
                    await inbox.idle()  # the parent's ts is stored: thread replies find the case

                    # agent reply -> customer
                    if i % 2 == 0:
                        async with http.post(f"{url}/console/api/cases/{case_id}/claim",
                                             headers=origin, json={}) as resp:
                            assert resp.status == 200, await resp.text()
                        await system_message(chat)  # "Ana from our support team has joined"
                        await inbox.idle()
                        arrival = asyncio.create_task(agent_message(chat))
                        started = time.perf_counter()
                        async with http.post(f"{url}/console/api/cases/{case_id}/reply",
                                             headers=origin,
                                             json={"text": f"Hi, Ana here (case {i})."}) as resp:
                            assert resp.status == 200, await resp.text()
                        samples[ROWS[3]].append(ms(started, await arrival))
                    else:
                        assert await events.press(parent, 0, user=AGENT) == 200  # Claim
                        await system_message(chat)
                        await inbox.idle()
                        arrival = asyncio.create_task(agent_message(chat))
                        started = time.perf_counter()
                        reply = channel_message(f"Hi, this is support (case {i}).",
                                                channel=INBOX, user=AGENT,
                                                thread_ts=str(parent.result["ts"]))
                        assert await events.send(reply) == 200
                        samples[ROWS[4]].append(ms(started, await arrival))
                finally:
                    await chat.ws.close()
            await agent_ws.close()
    finally:
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        for stop in reversed(stops):  # the gateway first, then the fakes
            await stop()
    return samples


def report(samples: dict[str, list[float]], cases: int) -> list[str]:
    lines = [f"handoff latency, {cases} cases one after another (web chat customers, 1 console "
             "agent, Slack inbox on; fakes on 127.0.0.1)",
             f"{'measurement':<31} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
             f"{'mean ms':>8}"]
    for name, values in samples.items():
        if not values:
            lines.append(f"{name:<31} {0:>4}")
            continue
        lines.append(f"{name:<31} {len(values):>4} {percentile(values, 50):>8.1f} "
                     f"{percentile(values, 99):>8.1f} {max(values):>8.1f} "
                     f"{statistics.fmean(values):>8.1f}")
    return lines


async def main(cases: int) -> None:
    lines = report(await run(cases), cases)
    print("\n".join(lines))
    write_results("handoff_latency", lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100,
                        help="handoff cases, one after another (default 100)")
    asyncio.run(main(parser.parse_args().cases))
