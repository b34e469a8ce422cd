"""Many concurrent conversations through failures, on the real stack: what is lost, answered twice
or out of order when processes die mid-flight.

Starts the whole stack (as `make run` does) in a temporary directory, opens N web chat customers
that behave like the widget (tests/customers.py: they reconnect with their session and send
unacknowledged messages again), and has each ask M FAQ questions with known answers in waves.
While the waves run, the gateway is SIGKILLed and restarted twice, and (with --kill-rasa) the
Rasa server once. Then it waits for every answer and prints the tally: lost, answered twice
(different message ids), out of order, and replies delivered again with the same id (sent to the
customer but not yet recorded when the gateway died: platforms are at-least-once there).

    python -m benchmarks.fault_run [--customers 40] [--questions 5] [--kill-rasa]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.results import write_results
from bot.stack import Ports, Stack
from tests.customers import Tally, WidgetCustomer, settle
from tests.integration.test_faults import ANSWERS

QUESTIONS = list(ANSWERS)


async def run(customers: int, questions: int, kill_rasa: bool) -> list[str]:
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as state:
        stack = Stack(ports=Ports.free(), state_dir=Path(state), say=lambda line: None)
        await stack.start()
        try:
            async with aiohttp.ClientSession() as http:
                crowd = [WidgetCustomer(stack.gateway_url, http) for _ in range(customers)]
                await asyncio.gather(*(c.start() for c in crowd))
                started = time.perf_counter()
                kills = {1: "gateway", 3: "gateway"}
                if kill_rasa:
                    kills[2] = "rasa server"
                for wave in range(questions):
                    for i, customer in enumerate(crowd):
                        await customer.say(QUESTIONS[(i + wave) % len(QUESTIONS)])
                    if wave in kills:
                        await asyncio.sleep(0.3)  # some of the wave answered, most in flight
                        proc = stack.process(kills[wave])
                        stack.kill(proc)
                        lines.append(f"wave {wave + 1}: {kills[wave]} SIGKILLed")
                        asyncio.create_task(stack.restart(proc, timeout_s=300))
                result: Tally = await settle(crowd, ANSWERS, timeout_s=600)
                took = time.perf_counter() - started
                lines.append(f"{customers} customers x {questions} questions in {took:.0f} s "
                             f"(reconnects {sum(c.reconnects for c in crowd)}): {result.line()}")
                for customer in crowd:
                    await customer.stop()
        finally:
            stack.stop()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--kill-rasa", action="store_true")
    args = parser.parse_args()
    lines = asyncio.run(run(args.customers, args.questions, args.kill_rasa))
    print("\n".join(lines))
    write_results("fault_run", lines)


if __name__ == "__main__":
    main()
