"""The drain loop: which conversations get worked on, when, and by whom.

A conversation is drained (its journal entries handled in order) by one worker at a time: the
worker holds the conversation's lock, so across gateway instances too. Work starts from four
sources, all through the same path:
- the instance that journals a message, right away; when its own work notice comes back while
  it is on the conversation, the notice is acknowledged once that worker is through, instead of
  starting another pass;
- a work notice from another instance that journalled a message (a Redis work queue);
- a notice another instance took and never finished (it died), reclaimed after a while;
- the sweep, every `interval_s`: every conversation with journal entries (or a pause/resume not
  yet applied), when Rasa answers. This is how messages kept during an outage are answered, and
  how a restart resumes.

Stopping refuses new work, lets workers finish the entry they are on (up to `grace_s`), and
cancels the rest: whatever is unfinished stays in the journal for the next start."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Awaitable, Callable

from redis.exceptions import RedisError

from bot.cancellation import cancel_and_wait, cancel_requested
from bot.stores import Stores, WorkTicket
from bot.stores.sqlite_db import DatabaseClosed

log = logging.getLogger(__name__)

# drain(conversation_id, wait): handle the conversation's journal in order while holding its
# lock; with wait=False, give up at once when another worker (on any instance) holds it.
Drain = Callable[[str, bool], Awaitable[None]]
Ready = Callable[[], Awaitable[bool]]
Pending = Callable[[], Awaitable[list[str]]]
# A store that is away (Redis restarting, a closed or full database): the work stays in the
# journal and is retried, and intake refuses rather than acknowledges.
STORE_ERRORS = (RedisError, OSError, sqlite3.Error, DatabaseClosed)


class Drainer:
    def __init__(self, stores: Stores, drain: Drain, *, rasa_ready: Ready, interval_s: float,
                 grace_s: float = 10.0, sweep_every: int = 720,
                 also_pending: Pending | None = None) -> None:
        self._stores = stores
        self._also_pending = also_pending  # conversations with work outside the journal
        self._drain = drain
        self._rasa_ready = rasa_ready
        self._interval_s = interval_s
        self._grace_s = grace_s
        self._sweep_every = sweep_every  # sweeps between deletions of expired state
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._tickets: dict[str, list[WorkTicket]] = {}
        # Own notices for a conversation whose worker is on it: acknowledged when that worker
        # is through (see _take_notice).
        self._riders: dict[str, list[WorkTicket]] = {}
        self._patient: set[str] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def start(self) -> None:
        """Resume what the journal holds (a restart), then keep consuming and sweeping."""
        try:
            for conversation_id in await self._stores.journal.conversations():
                self.schedule(conversation_id, wait=False)
        except STORE_ERRORS as exc:  # the sweep tries again
            log.warning("journal not read at start: %s", exc)
        self._loops = [asyncio.create_task(self._consume(), name="drain: work queue"),
                       asyncio.create_task(self._sweep_forever(), name="drain: sweep")]

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait(self._loops)
        workers = list(self._workers.values())
        if workers:
            done, pending = await asyncio.wait(workers, timeout=self._grace_s)
            await cancel_and_wait(pending)
            if pending:
                log.warning("stopped %d conversation(s) mid-turn; their messages stay in the "
                            "journal for the next start", len(pending))

    async def idle(self) -> None:
        """Wait until no conversation is being worked on (tests, benchmarks)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    def schedule(self, conversation_id: str, ticket: WorkTicket | None = None, *,
                 wait: bool = True) -> None:
        """Make sure the conversation gets drained (again, if a worker is on it right now).
        wait=False (sweeps): skip it if another worker anywhere is on it."""
        if ticket is not None:
            self._tickets.setdefault(conversation_id, []).append(ticket)
        if wait:
            self._patient.add(conversation_id)
        if self._stopping:
            return
        worker = self._workers.get(conversation_id)
        if worker is not None and not worker.done():
            self._again.add(conversation_id)
            return
        self._workers[conversation_id] = asyncio.create_task(
            self._work(conversation_id), name=f"conversation {conversation_id}")

    async def _work(self, conversation_id: str) -> None:
        try:
            while True:
                self._again.discard(conversation_id)
                tickets = self._tickets.pop(conversation_id, [])
                wait = conversation_id in self._patient
                self._patient.discard(conversation_id)
                try:
                    await self._drain(conversation_id, wait)
                except STORE_ERRORS as exc:
                    # The store is away (Redis restarting): the journal still has the work,
                    # and the sweep comes back to it.
                    log.warning("draining %s stopped: store unavailable (%s)", conversation_id,
                                exc)
                    return
                except Exception:
                    log.exception("draining %s failed", conversation_id)
                    return
                await self._done(tickets)
                if self._stopping:
                    return  # a stop may have cut the pass short: riders stay unacknowledged
                if conversation_id in self._again:
                    continue
                # No pass was asked for since this one began, so every rider's message (journalled
                # before its notice came) was in the journal this pass read.
                riders = self._riders.pop(conversation_id, [])
                if riders:
                    await self._done(riders)
                    if conversation_id in self._again and not self._stopping:
                        continue  # a message arrived meanwhile
                return
        finally:
            if self._workers.get(conversation_id) is asyncio.current_task():
                del self._workers[conversation_id]
                # Not acknowledged (the pass failed or was stopped): left for a reclaim.
                self._riders.pop(conversation_id, None)

    async def _done(self, tickets: list[WorkTicket]) -> None:
        for ticket in tickets:
            try:
                await self._stores.work.done(ticket)
            except STORE_ERRORS:
                pass  # reclaimed and drained again later: harmless

    async def _consume(self) -> None:
        delay = 0.1
        while not cancel_requested():
            try:
                for ticket in await self._stores.work.next(timeout_s=1.0):
                    self._take_notice(ticket)
                delay = 0.1
            except STORE_ERRORS as exc:
                log.warning("work queue unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _take_notice(self, ticket: WorkTicket) -> None:
        cid = ticket.conversation_id
        worker = self._workers.get(cid)
        if ticket.ours and worker is not None and not worker.done() and not self._stopping:
            # This instance journalled the message, and accept scheduled this worker for it
            # (or asked the running one for another pass): one more pass would only read the
            # journal again. Acknowledged once the worker is through; left pending (for a
            # reclaim) if it fails.
            self._riders.setdefault(cid, []).append(ticket)
            return
        # Another instance's message (often that instance is on the conversation already), or
        # ours with nobody on it: a pass that gives way if anyone holds the conversation.
        self.schedule(cid, ticket, wait=False)

    async def sweep_once(self) -> int:
        """Schedule every conversation with journal entries (if Rasa answers) and take over work
        a dead instance left; returns how many conversations were scheduled."""
        for ticket in await self._stores.work.reclaim():
            self.schedule(ticket.conversation_id, ticket)
        conversations = await self._stores.journal.conversations()
        if self._also_pending is not None:
            conversations += [c for c in await self._also_pending() if c not in conversations]
        if not conversations or not await self._rasa_ready():
            return 0
        scheduled = 0
        for conversation_id in conversations:
            if conversation_id not in self._workers:
                self.schedule(conversation_id, wait=False)
                scheduled += 1
        return scheduled

    async def _sweep_forever(self) -> None:
        rounds = 0
        while not cancel_requested():
            await asyncio.sleep(self._interval_s)
            try:
                await self.sweep_once()
                if rounds % self._sweep_every == 0:
                    removed = await self._stores.sweep()
                    if removed:
                        log.info("removed %d expired record(s)", removed)
            except STORE_ERRORS as exc:
                log.warning("sweep skipped: store unavailable (%s)", exc)
            except Exception:  # keep sweeping; one failure must not end recovery
                log.exception("sweep failed")
            rounds += 1
