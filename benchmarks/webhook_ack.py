"""Platform webhook acknowledgement latency while Rasa is slow.

Slack retries an Events API callback that is not answered within 3 s, and Twilio reports an error
(and the reply is lost) when its webhook gets no answer within 15 s. The gateway therefore answers
the platform's POST as soon as the message is queued and sends the replies later through the
platform's API. This measures that acknowledgement per channel: the real gateway app, with each
platform channel pointed at the test suite's fake platform API, and a fake Rasa that takes 2 s per
message behind it. The gateway runs as its own process (python -m bot), the fakes and the load in
this one. The acknowledgement waits for the durable journal write (the message and its
idempotency mark): SQLite on disk with synchronous=FULL (the embedded default) and Redis. Each
POST is timed from send to response status received; the table gives p50, p99, max and mean in
milliseconds, and how many replies eventually reached the fake API (all of them should, about 2 s
later). Everything runs on 127.0.0.1.

    python -m benchmarks.webhook_ack [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from benchmarks.results import write_results
from benchmarks.webchat_roundtrip import percentile
from bot.model_cache import ROOT
from bot.stack import free_port
from tests.fakes.rasa import FakeRasa
from tests.serving import Stop, start_app
from tests.fakes.slack_api import TEAM, FakeSlackApi, dm, signature_headers
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI, Updates
from tests.fakes.twilio_api import WHATSAPP_FROM, FakeTwilio
from tests.slack.conftest import slack_env
from tests.sms.conftest import new_sid
from tests.telegram.conftest import SECRET as TELEGRAM_SECRET

RASA_DELAY_S = 2.0
CONCURRENCY = 20  # webhook POSTs in flight at once
REPLY_WAIT_S = 30.0  # how long to wait for the replies to reach the fake platform API


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Platform:
    """One channel's fake platform API and how to talk to the gateway as that platform."""
    name: str
    path: str  # the gateway's webhook
    api: web.Application  # the fake platform API the gateway sends replies to
    env: Callable[[str], dict[str, str]]  # the gateway environment, given the fake API's URL
    request: Callable[[int], SignedRequest]  # the signed webhook for a message in conversation i
    replies: Callable[[], int]  # replies the fake API has accepted so far


# --- Slack -------------------------------------------------------------------------------------
def slack_platform() -> Platform:
    fake = FakeSlackApi()
    return Platform("slack", "/slack/events", fake.app(),
                    env=lambda url: slack_env(f"{url}/api/"), request=slack_request,
                    replies=lambda: len(fake.posts()))


def slack_request(i: int) -> SignedRequest:
    """An Events API callback: a DM from user i in their own DM channel, signed as Slack does."""
    event = dm(f"benchmark message {i}", user=f"U{i:08d}", channel=f"D{i:08d}")
    envelope = {"token": "legacy-verification-token", "team_id": TEAM, "api_app_id": "A0APP",
                "type": "event_callback", "event": event,
                "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time())}
    body = json.dumps(envelope)
    return SignedRequest(body.encode(), {"Content-Type": "application/json",
                                         **signature_headers(body, "valid")})


# --- Telegram ----------------------------------------------------------------------------------
def telegram_platform() -> Platform:
    fake = FakeTelegramAPI()
    updates = Updates()
    return Platform("telegram", "/telegram/webhook", fake.app(),
                    env=lambda url: {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
                                     "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
                                     "TELEGRAM_API_URL": url},
                    request=lambda i: telegram_request(updates, i),
                    replies=lambda: len(fake.sent()))


def telegram_request(updates: Updates, i: int) -> SignedRequest:
    """A private-chat message update from user i, with the webhook's secret token header."""
    chat = 10_000 + i
    update = updates.message(f"benchmark message {i}", chat_id=chat, user_id=chat)
    return SignedRequest(json.dumps(update).encode(),
                         {"Content-Type": "application/json",
                          "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})


# --- SMS (Twilio) ------------------------------------------------------------------------------
def sms_platform() -> Platform:
    fake = FakeTwilio()
    return Platform("sms", "/sms/twilio", fake.app(), env=fake.channel_env,
                    request=lambda i: sms_request(fake, i), replies=lambda: len(fake.sent))


def sms_request(twilio: FakeTwilio, i: int) -> SignedRequest:
    """An incoming-message webhook from phone number i, signed against the public URL."""
    params = twilio.inbound_params(sender=f"+1555{i:07d}", body=f"benchmark message {i}",
                                   sid=new_sid())
    signature = twilio.sign(twilio.public_base_url + "/sms/twilio", params)
    return SignedRequest(urlencode(params).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "X-Twilio-Signature": signature})


# --- WhatsApp (Twilio) -------------------------------------------------------------------------
def whatsapp_platform() -> Platform:
    fake = FakeTwilio()
    return Platform("whatsapp", "/whatsapp/twilio", fake.app(), env=fake.whatsapp_env,
                    request=lambda i: whatsapp_request(fake, i), replies=lambda: len(fake.sent))


def whatsapp_request(twilio: FakeTwilio, i: int) -> SignedRequest:
    """A WhatsApp message from number i, signed against the public URL."""
    params = twilio.inbound_params(sender=f"whatsapp:+1666{i:07d}",
                                   body=f"benchmark message {i}", sid=new_sid())
    params["To"] = WHATSAPP_FROM
    signature = twilio.sign(twilio.public_base_url + "/whatsapp/twilio", params)
    return SignedRequest(urlencode(params).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "X-Twilio-Signature": signature})


# --- the run -----------------------------------------------------------------------------------
async def serve(app: web.Application, stops: list[Stop]) -> str:
    url, stop = await start_app(app)
    stops.append(stop)
    return url


@dataclass(frozen=True)
class Result:
    name: str
    acks_ms: list[float]
    bad_statuses: list[int]
    replies: int
    reply_wait_s: float


def journal_env(kind: str, directory: Path) -> dict[str, str]:
    """What acknowledges in production: the journal on disk (SQLite, synchronous=FULL: the
    embedded default) or in Redis (REDIS_URL; TEST_REDIS_URL picks the server)."""
    if kind == "redis":
        return {"REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
                "REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:"}
    return {"GATEWAY_DB": str(directory / "gateway.db")}


async def start_gateway_process(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """The gateway as `make run` runs it (python -m bot), in its own process: the load and the
    fakes here must not share its event loop, or the figure measures them too."""
    port = free_port()
    full = {**os.environ, **env, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
            "HANDOFF_SECRET": "bench"}
    proc = subprocess.Popen([sys.executable, "-m", "bot"], env=full, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError("the gateway did not start")


async def measure(platform: Platform, http: aiohttp.ClientSession, requests: int,
                  store: str) -> Result:
    stops: list[Stop] = []
    journal: dict[str, str] = {}
    directory = Path(tempfile.mkdtemp(prefix="webhook-ack-"))
    gateway_proc: subprocess.Popen[bytes] | None = None
    try:
        rasa = FakeRasa(delay_s=RASA_DELAY_S)
        rasa_url = await serve(rasa.app(), stops)
        api_url = await serve(platform.api, stops)
        journal = journal_env(store, directory)
        gateway_proc, gateway = await start_gateway_process({
            **platform.env(api_url), **journal, "RASA_URL": rasa_url, "RASA_TOKEN": rasa.token})
        slots = asyncio.Semaphore(CONCURRENCY)
        acks: list[float] = []
        bad: list[int] = []

        async def post(i: int) -> None:
            signed = platform.request(i)
            async with slots:
                started = time.perf_counter()
                async with http.post(gateway + platform.path, data=signed.body,
                                     headers=signed.headers) as resp:
                    acks.append((time.perf_counter() - started) * 1000)
                    if not 200 <= resp.status < 300:
                        bad.append(resp.status)
                    await resp.read()

        sent_at = time.perf_counter()
        await asyncio.gather(*(post(i) for i in range(requests)))
        deadline = time.perf_counter() + REPLY_WAIT_S
        while platform.replies() < requests and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        return Result(f"{platform.name} ({store})", acks, bad, platform.replies(),
                      time.perf_counter() - sent_at)
    finally:
        if gateway_proc is not None:
            gateway_proc.terminate()
            gateway_proc.wait()
        for stop in reversed(stops):
            await stop()
        shutil.rmtree(directory, ignore_errors=True)
        if "REDIS_PREFIX" in journal:
            await forget_redis_keys(journal["REDIS_URL"], journal["REDIS_PREFIX"])


async def forget_redis_keys(url: str, prefix: str) -> None:
    """A run's keys would otherwise stay in the database and slow every later run."""
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start:start + 500])
    finally:
        await client.aclose()


def report(results: list[Result], requests: int) -> list[str]:
    lines = [f"webhook ack latency, {requests} messages per channel (one per conversation), "
             f"{CONCURRENCY} in flight, fake Rasa {RASA_DELAY_S:.0f} s per message; each ack "
             "after the durable journal write",
             f"{'channel (journal)':<18} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
             f"{'mean ms':>8}  {'replies delivered':>17}"]
    for r in results:
        lines.append(f"{r.name:<18} {len(r.acks_ms):>4} {percentile(r.acks_ms, 50):>8.1f} "
                     f"{percentile(r.acks_ms, 99):>8.1f} {max(r.acks_ms):>8.1f} "
                     f"{statistics.fmean(r.acks_ms):>8.1f}  {r.replies:>6}/{requests:<4} "
                     f"in {r.reply_wait_s:4.1f} s")
    for r in results:
        if r.bad_statuses:
            lines.append(f"WARNING: {r.name}: {len(r.bad_statuses)} acks were not 2xx "
                         f"(statuses {sorted(set(r.bad_statuses))})")
        if r.replies < requests:
            lines.append(f"WARNING: {r.name}: only {r.replies} of {requests} replies reached "
                         f"the fake API within {REPLY_WAIT_S:.0f} s")
    return lines


async def main(requests: int, stores: list[str]) -> None:
    results: list[Result] = []
    async with aiohttp.ClientSession() as http:
        for store in stores:
            for make in (slack_platform, telegram_platform, sms_platform, whatsapp_platform):
                results.append(await measure(make(), http, requests, store))
    lines = report(results, requests)
    print("\n".join(lines))
    write_results("webhook_ack", lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200,
                        help="messages sent to each channel (default 200)")
    parser.add_argument("--stores", default="sqlite,redis",
                        help="journals to measure: sqlite (the embedded default), redis")
    args = parser.parse_args()
    asyncio.run(main(args.requests, [s.strip() for s in args.stores.split(",") if s.strip()]))
