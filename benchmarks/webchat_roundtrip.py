"""Web chat round-trip latency through the whole real stack.

Starts the stack (trained model, Rasa, actions, demo backend, gateway) on free ports, reports how
long each process took to become healthy (Rasa's cold start among them), then times N sequential
round trips over the web chat websocket (customer message sent -> last reply of the turn received)
for a FAQ question, for a customer asking for a person ("agent": the handoff action builds the
context package, opens a case in the gateway's inbox and pauses the conversation, inside one Rasa
turn), and for an order-status lookup that goes through the action server and backend. The FAQ
and handoff rounds alternate, so both p50s come from the same minutes of the same run.

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

from benchmarks.results import write_results
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


def report(name: str, samples: list[float]) -> str:
    line = (f"{name:<34} n={len(samples):<4} p50={percentile(samples, 50):7.1f} ms  "
            f"p95={percentile(samples, 95):7.1f} ms  mean={statistics.fmean(samples):7.1f} ms")
    print(line, flush=True)
    return line


async def time_faq_and_handoff(url: str, rounds: int) -> tuple[list[float], list[float]]:
    """Alternating rounds: a new visitor asks a FAQ; another new visitor types "agent" (timed:
    until the case confirmation arrives) and then "never mind" (not timed) to close the case."""
    faq: list[float] = []
    handoff: list[float] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds):
            for text, samples in (("how much is shipping", faq), ("agent", handoff)):
                chat = ChatClient(await http.ws_connect(f"{url}/webchat/ws"))
                await chat.hello()
                started = time.perf_counter()
                replies = await chat.turn(text)
                samples.append((time.perf_counter() - started) * 1000)
                if text == "agent":
                    assert "case C-" in replies[0]["text"], replies
                    await chat.turn("never mind")
                await chat.close()
    return faq, handoff


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        lines: list[str] = []
        stack = Stack(ports=Ports.free(), state_dir=Path(state),
                      say=lambda line: lines.append(line.strip()) or print(line, flush=True))
        started = time.perf_counter()
        await stack.start()
        lines.append(f"stack ready in {time.perf_counter() - started:.1f} s (all processes in "
                     "parallel)")
        print(lines[-1])
        try:
            url = stack.gateway_url
            await time_turns(url, ["hello"], 3)  # warm-up
            faq, handoff = await time_faq_and_handoff(url, rounds)
            lines.append(report("faq round trip", faq))
            lines.append(report('handoff round trip ("agent")', handoff))
            ratio = percentile(handoff, 50) / percentile(faq, 50)
            lines.append(f"handoff p50 / faq p50 = {ratio:.2f} (target: at most 1.5)")
            print(lines[-1])
            order = await time_turns(url, ["where is my order", "482913", "jane.doe@example.com"],
                                     max(1, rounds // 3))
            lines.append(report("order-status turns (3 per flow)", order))
        finally:
            stack.stop()
        write_results("webchat_roundtrip", lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    asyncio.run(main(parser.parse_args().rounds))
