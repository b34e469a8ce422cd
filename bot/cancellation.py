"""Stopping background tasks for sure.

A library that catches CancelledError somewhere below an await (redis-py's asyncio client has
done so in its connection handling) leaves a cancelled task running: it goes back to its loop and
sleeps, and whoever awaits it waits for ever: a gateway that never finishes shutting down. Loops
check `cancel_requested()` each round, and stoppers use `cancel_and_wait`, which cancels again
while a task keeps running."""

from __future__ import annotations

import asyncio
import logging
from typing import Iterable

log = logging.getLogger(__name__)


def cancel_requested() -> bool:
    """True when the running task was cancelled but something swallowed the CancelledError."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]], *, rounds: int = 20,
                          round_s: float = 0.5,
                          first_round_s: float = 5.0) -> list[asyncio.Task[object]]:
    """Cancel the tasks and wait until they end. A task still running after `first_round_s`
    (time for honest clean-up, such as releasing a Redis lock in a `finally`) is cancelled
    again, then every `round_s`, up to `rounds` times; returns the ones that outlived every
    round (logged)."""
    pending = {t for t in tasks if not t.done()}
    wait_s = first_round_s
    for _ in range(rounds):
        if not pending:
            return []
        for task in pending:
            task.cancel()
        done, pending = await asyncio.wait(pending, timeout=wait_s)
        wait_s = round_s
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved: ending with an error is still ending
    for task in pending:
        log.error("task %s did not stop after %d cancellations", task.get_name(), rounds)
    return list(pending)
