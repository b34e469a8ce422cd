"""What a RabbitMQ restart loses, on each side, measured from outside.

1. The production profile of the pipeline on the real stack (`make run`'s processes with
   ANALYTICS_BROKER=pika plus the analytics consumer, against a RabbitMQ node of its own):
   web chat customers keep talking while RabbitMQ is SIGKILLed and comes back; afterwards every
   Rasa event in the tracker store and every case opened is looked for in the analytics
   database. Reported: events the conversations produced, stored, lost, and redeliveries the
   consumer recognised as duplicates.
2. Rasa's own PikaEventBroker (rasa/core/brokers/pika.py) through the same kind of restart:
   events published at a steady rate; reported: published, received by a queue bound to its
   exchange, lost; and what it does with events published before it has connected.

    python -m benchmarks.rabbitmq_restart [--customers 4] [--seconds 30] [--outage 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import aio_pika
import aiohttp

from analytics.outbox import (RASA_EXCHANGE, RASA_QUEUE, ExchangeSpec, Forwarder,
                              SqliteSpool)
from analytics.pseudonyms import stored_key
from analytics.records import Pseudonyms, from_rasa
from benchmarks.results import write_results
from bot.stack import Ports, Stack
from tests.chat_client import ChatClient
from tests.rabbit_server import RabbitServer

QUESTIONS = ["how long does shipping take?", "do you ship abroad?", "what is your return policy?",
             "how do I pay?"]


async def chatter(url: str, stop: asyncio.Event, sessions: list[str], turns: list[int],
                  timings: list[tuple[float, float]]) -> None:
    async with aiohttp.ClientSession() as http:
        chat = ChatClient(await http.ws_connect(f"{url}/webchat/ws"))
        await chat.hello()
        sessions.append(chat.session or "")
        n = 0
        while not stop.is_set():
            started = time.monotonic()
            await chat.turn(QUESTIONS[n % len(QUESTIONS)], timeout=300)
            timings.append((started, time.monotonic() - started))
            n += 1
            turns[0] += 1
            await asyncio.sleep(0.6)  # under the web chat's 20 messages per 10 s
        await chat.close()


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, args).fetchall()


async def the_stack(customers: int, seconds: float, outage: float) -> list[str]:
    lines = ["== the stack, ANALYTICS_BROKER=pika, RabbitMQ SIGKILLed mid-traffic"]
    rabbit = RabbitServer()
    rabbit.start()
    with tempfile.TemporaryDirectory() as state:
        state_dir = Path(state)
        consumer_db = f"sqlite:///{state_dir / 'consumer.db'}"
        stack = Stack(ports=Ports.free(), state_dir=state_dir, say=lambda line: None,
                      extra_env={"ANALYTICS_BROKER": "pika", "ANALYTICS_BROKER_URL": rabbit.url,
                                 "ANALYTICS_AMQP_URL": rabbit.url, "ANALYTICS_DB_URL": consumer_db})
        await stack.start()
        try:
            stop, sessions, turns = asyncio.Event(), [], [0]
            timings: list[tuple[float, float]] = []
            talkers = [asyncio.create_task(chatter(stack.gateway_url, stop, sessions, turns,
                                                   timings))
                       for _ in range(customers)]
            await asyncio.sleep(seconds / 3)
            rabbit.stop(kill=True)
            down_at = time.monotonic()
            # Turns while RabbitMQ alone is down (before the Rasa server is killed too).
            await asyncio.sleep(min(5.0, outage / 2))
            rasa_killed_at = time.monotonic()
            lines.append(f"RabbitMQ SIGKILLed after {seconds / 3:.0f} s of traffic "
                         f"({turns[0]} turns so far)")
            # Rasa dies while RabbitMQ is away: what it had not forwarded yet is in its spool
            # file, which the restarted server (same port, same file) forwards.
            rasa = stack.process("rasa server")
            stack.kill(rasa)
            lines.append("Rasa server SIGKILLed while RabbitMQ was down; restarting it")
            back = await stack.restart(rasa, timeout_s=300)
            lines.append(f"Rasa server back in {back:.1f} s")
            await asyncio.sleep(max(0.0, outage - (time.monotonic() - down_at)))
            took = rabbit.start()
            lines.append(f"RabbitMQ back after {time.monotonic() - down_at:.1f} s "
                         f"(its port opened {took:.1f} s after the start)")
            await asyncio.sleep(seconds * 2 / 3)
            stop.set()
            await asyncio.gather(*talkers)
            lines.append(f"{customers} customers, {turns[0]} web chat turns answered")

            def median_ms(spans: list[float]) -> str:
                spans = sorted(spans)
                return f"{1000 * spans[len(spans) // 2]:.0f} ms (n={len(spans)})" if spans else "-"
            lines.append("median FAQ turn, web chat: RabbitMQ up "
                         + median_ms([d for t, d in timings if t < down_at])
                         + "; RabbitMQ down, Rasa up "
                         + median_ms([d for t, d in timings if down_at <= t < rasa_killed_at
                                      and t + d < rasa_killed_at]))
            conversations = [rows(state_dir / "gateway.db",
                                  "SELECT value FROM sessions WHERE token = ?", s)[0][0]
                             for s in sessions]
            pseudonyms = Pseudonyms(stored_key(state_dir / "analytics.key").encode())
            expected: set[str] = set()
            for cid in conversations:
                for (data,) in rows(state_dir / "rasa-tracker.db",
                                    "SELECT data FROM helpdesk_tracker_events WHERE sender_id = ?", cid):
                    record = from_rasa({"sender_id": cid, **json.loads(data)}, pseudonyms)
                    if record is not None:
                        expected.add(record.event_key)
            deadline = time.monotonic() + 120
            stored: set[str] = set()
            while time.monotonic() < deadline:
                stored = {k for (k,) in rows(state_dir / "consumer.db",
                                             "SELECT event_key FROM analytics_events")}
                if expected <= stored:
                    break
                await asyncio.sleep(0.5)
            caught_up = time.monotonic() - (deadline - 120)
            lost = expected - stored
            async with aiohttp.ClientSession() as http:
                metrics = await (await http.get(
                    f"http://127.0.0.1:{stack.process('analytics consumer').env['ANALYTICS_METRICS_PORT']}/metrics")).text()
            duplicates = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                             if line.startswith("helpdesk_analytics_events_total")
                             and 'outcome="duplicate"' in line)
            lines.append(f"Rasa events of these conversations: {len(expected)}; in the analytics "
                         f"database: {len(expected & stored)}; lost: {len(lost)}; redeliveries "
                         f"recognised as duplicates: {duplicates:.0f}; all stored "
                         f"{caught_up:.1f} s after the traffic stopped")
        finally:
            stack.stop()
            rabbit.remove()
    return lines


async def stock_broker(seconds: float, outage: float, rate_hz: float = 50.0) -> list[str]:
    import rasa.shared.core.events  # noqa: F401  (pika.py needs it imported)
    from rasa.core.brokers.pika import PikaEventBroker

    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    lines = ["== Rasa's own PikaEventBroker through the same restart"]
    rabbit = RabbitServer()
    rabbit.start()
    try:
        broker = PikaEventBroker("127.0.0.1", "guest", "guest", port=rabbit.port,
                                 queues=[RASA_QUEUE], connection_attempts=1000,
                                 retry_delay_in_seconds=0.5)
        before = [{"sender_id": "bench", "event": "user", "timestamp": time.time(), "text": "x",
                   "n": -1}]
        broker.publish(before[0])  # not connected yet: the stock broker's first limit
        await broker.connect()
        published = 0
        started = time.monotonic()
        killed = restarted = False
        while time.monotonic() - started < seconds:
            broker.publish({"sender_id": "bench", "event": "user", "timestamp": time.time(),
                            "text": "x", "n": published})
            published += 1
            elapsed = time.monotonic() - started
            if not killed and elapsed > seconds / 3:
                rabbit.stop(kill=True)
                killed = True
                killed_at = elapsed
            if killed and not restarted and elapsed > seconds / 3 + outage:
                await asyncio.to_thread(rabbit.start)
                restarted = True
            await asyncio.sleep(1 / rate_hz)
        await asyncio.sleep(5)  # its reconnect callback republishes what it kept in memory
        connection = await aio_pika.connect(rabbit.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(RASA_QUEUE, durable=True)
            received: set[int] = set()
            while True:
                message = await queue.get(no_ack=True, fail=False, timeout=5)
                if message is None:
                    break
                received.add(json.loads(message.body)["n"])
        published_during = [n for n in range(published)]
        lost = [n for n in published_during if n not in received]
        lines.append(f"published {published} events at {rate_hz:.0f}/s; RabbitMQ SIGKILLed at "
                     f"{killed_at:.0f} s for {outage:.0f} s; received {len(received - {-1})}; "
                     f"lost {len(lost)}")
        lines.append("published before connect(): "
                     + ("received" if -1 in received else "dropped (never sent, no error)"))
        await broker.close()

        # Rasa dying while RabbitMQ is away: a real process, SIGKILLed (a dropped object would
        # keep its connection and reconnect).
        for which in ("stock", "project"):
            await queue_purge(rabbit)
            spool_dir = Path(tempfile.mkdtemp())
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.rabbitmq_restart", "--child", which,
                "--port", str(rabbit.port), "--spool", str(spool_dir),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "ANALYTICS_PSEUDONYM_KEY": "benchmark-pseudonym-key-xyz"})
            assert child.stdin is not None and child.stdout is not None
            await signal_line(child.stdout, b"ready")
            rabbit.stop(kill=True)
            child.stdin.write(b"go\n")
            await child.stdin.drain()
            await signal_line(child.stdout, b"published")
            child.kill()
            await child.wait()
            await asyncio.to_thread(rabbit.start)
            if which == "project":  # the restarted server forwards its spool file
                spec = ExchangeSpec(RASA_EXCHANGE.name, RASA_EXCHANGE.type, RASA_EXCHANGE.durable,
                                    queues=(RASA_QUEUE,))
                forwarder = Forwarder(rabbit.url, SqliteSpool(next(spool_dir.glob("*.db"))),
                                      spec)
                forwarder.start()
                await forwarder.drain(timeout_s=30)
                await forwarder.close()
            await asyncio.sleep(3)
            lines.append(f"{which} broker: 200 events while RabbitMQ was down, then the Rasa "
                         f"process SIGKILLed and RabbitMQ back: {await queue_count(rabbit)} of "
                         "200 received")

        # Starting while RabbitMQ is unreachable.
        rabbit.stop(kill=True)
        from rasa.core.brokers.broker import EventBroker
        from rasa.utils.endpoints import EndpointConfig

        started = time.monotonic()
        try:
            await EventBroker.create(EndpointConfig(
                url="127.0.0.1", type="pika", username="guest", password="guest",
                port=rabbit.port, queues=[RASA_QUEUE], connection_attempts=3,
                retry_delay_in_seconds=0.5))
            outcome = "started"
        except Exception as exc:
            outcome = f"refused to start ({type(exc).__name__})"
        lines.append(f"stock broker with RabbitMQ unreachable, 3 attempts 0.5 s apart: {outcome} "
                     f"after {time.monotonic() - started:.1f} s (Rasa's defaults: 20 attempts, "
                     "5 s apart, then the server does not start)")
        import secrets

        from bot.rasa_event_broker import HelpdeskEventBroker

        os.environ.setdefault("ANALYTICS_PSEUDONYM_KEY", secrets.token_urlsafe(24))
        started = time.monotonic()
        ours = await HelpdeskEventBroker.from_endpoint_config(EndpointConfig(
            url=rabbit.url, backend="pika", spool_dir=str(spool_dir)))
        lines.append(f"the project's broker, the same: started in "
                     f"{time.monotonic() - started:.2f} s, spooling until RabbitMQ is back")
        assert ours is not None
        await ours.close()
    finally:
        rabbit.remove()
    return lines


async def child(which: str, port: int, spool: str) -> None:
    """A Rasa process's broker, to be SIGKILLed by the parent (see stock_broker). Only its two
    signal lines go to stdout."""
    import logging

    import structlog

    logging.basicConfig(stream=sys.stderr, level=logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    events = [{"sender_id": "web:bench", "event": "user", "timestamp": 1_800_000_000.0 + n,
               "text": f"message {n}", "parse_data": {"intent": {"name": "greet",
                                                                 "confidence": 0.9}}}
              for n in range(200)]
    if which == "stock":
        import rasa.shared.core.events  # noqa: F401
        from rasa.core.brokers.pika import PikaEventBroker

        broker = PikaEventBroker("127.0.0.1", "guest", "guest", port=port, queues=[RASA_QUEUE],
                                 connection_attempts=1000, retry_delay_in_seconds=0.5)
        await broker.connect()
    else:
        from rasa.utils.endpoints import EndpointConfig

        from bot.rasa_event_broker import HelpdeskEventBroker

        ours = await HelpdeskEventBroker.from_endpoint_config(EndpointConfig(
            url=f"amqp://guest:guest@127.0.0.1:{port}/", backend="pika", spool_dir=spool))
        assert ours is not None
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for event in events:
        if which == "stock":
            broker.publish(event)
        else:
            await ours.save_events([event])
    await asyncio.sleep(0.5)
    print("published", flush=True)
    await asyncio.sleep(3600)


async def signal_line(stream: asyncio.StreamReader, expected: bytes) -> None:
    async with asyncio.timeout(120):
        while (line := await stream.readline()) and line.strip() != expected:
            pass
    assert line.strip() == expected, f"the child ended before {expected!r}"


async def queue_purge(rabbit: RabbitServer) -> None:
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        await (await channel.declare_queue(RASA_QUEUE, durable=True)).purge()


async def queue_count(rabbit: RabbitServer) -> int:
    connection = await aio_pika.connect(rabbit.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(RASA_QUEUE, durable=True)
        return int(queue.declaration_result.message_count or 0)


async def main_async(args: argparse.Namespace) -> list[str]:
    lines = await the_stack(args.customers, args.seconds, args.outage)
    lines += await stock_broker(args.seconds, args.outage)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rabbitmq_restart")
    parser.add_argument("--customers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--outage", type=float, default=8.0)
    parser.add_argument("--child", choices=["stock", "project"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--spool", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.port, args.spool))
        return
    lines = asyncio.run(main_async(args))
    print("\n".join(lines))
    write_results("rabbitmq_restart", lines)


if __name__ == "__main__":
    main()
