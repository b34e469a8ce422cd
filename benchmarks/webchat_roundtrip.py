"""Web chat round-trip latency through the whole real stack.

Starts the stack (trained model, Rasa, actions, demo backend, gateway) on free ports, reports how
long each process took to become healthy (Rasa's cold start among them), then times N sequential
round trips over the web chat websocket (customer message sent -> last reply of the turn received)
for a FAQ question and for an order-status lookup that goes through the action server and backend.

    python -m benchmarks.webchat_roundtrip [--rounds 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bot.stack import Ports, Stack
from tests.chat_client import ChatClient


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def time_turns(url: str, script: list[str], rounds: int) -> list[float]:
    samples: list[float] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds):
            chat = ChatClient(await http.ws_connect(f"{url}/webchat/ws"))
            await chat.hello()
            for text in script:
                started = time.perf_counter()
                await chat.turn(text)
                samples.append((time.perf_counter() - started) * 1000)
            await chat.ws.close()
    return samples


def report(name: str, samples: list[float]) -> None:
    print(f"{name:<34} n={len(samples):<4} p50={percentile(samples, 50):7.1f} ms  "
          f"p95={percentile(samples, 95):7.1f} ms  mean={statistics.fmean(samples):7.1f} ms")


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        stack = Stack(ports=Ports.free(), state_dir=Path(state))
        started = time.perf_counter()
        await stack.start()
        print(f"stack ready in {time.perf_counter() - started:.1f} s (all processes in parallel)")
        try:
            url = stack.gateway_url
            await time_turns(url, ["hello"], 3)  # warm-up
            report("faq round trip", await time_turns(url, ["how much is shipping"], rounds))
            order = await time_turns(url, ["where is my order", "482913", "jane.doe@example.com"],
                                     max(1, rounds // 3))
            report("order-status turns (3 per flow)", order)
        finally:
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    asyncio.run(main(parser.parse_args().rounds))
