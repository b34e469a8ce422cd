"""Several Rasa servers behind one gateway (RASA_URL="http://a:5005,http://b:5005").

Each conversation has a home server, chosen by rendezvous hashing of its id over the servers'
URLs: the same on every gateway instance with no coordination, and when a server is removed only
its own conversations move. A server that cannot be connected to is skipped for `down_for_s`
and the conversation goes to the next server in its order; it comes home once its server
answers again. Moving is safe because the servers share everything a conversation has (Redis
tracker and lock stores, docs/production.md): Rasa's lock keeps two servers from running one
conversation's turns at once, and a request that may have reached a server before it died is
looked up in the shared tracker before it is sent again (engine: find_turn).

Only a refused or failed connection moves a request: an HTTP error or a timeout from a server
that is up is the engine's to retry, as with a single server."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from bot.rasa_client import RasaClient, RasaTurn, RasaUnavailable, RasaUnreachable, TurnLookup
from bot.rasa_input import RasaText

log = logging.getLogger(__name__)

T = TypeVar("T")
DOWN_FOR_S = 5.0


def home_order(conversation_id: str, servers: Sequence[str]) -> list[int]:
    """Indexes of `servers`, the conversation's home first (highest rendezvous score)."""
    def score(index: int) -> bytes:
        return hashlib.sha256(f"{servers[index]}\0{conversation_id}".encode()).digest()
    return sorted(range(len(servers)), key=score, reverse=True)


class RasaPool:
    def __init__(self, clients: Sequence[RasaClient], *, down_for_s: float = DOWN_FOR_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not clients:
            raise ValueError("at least one Rasa server is needed")
        self._clients = list(clients)
        self._urls = [c.base_url for c in self._clients]
        self._down_until = [0.0] * len(self._clients)
        self._down_for_s = down_for_s
        self._clock = clock
        self._next_any = 0

    @classmethod
    def from_urls(cls, urls: Sequence[str], *, token: str | None, timeout_s: float,
                  **kwargs: Any) -> RasaPool:
        return cls([RasaClient(base_url=u, token=token, timeout_s=timeout_s) for u in urls],
                   **kwargs)

    @property
    def urls(self) -> list[str]:
        return list(self._urls)

    def up(self) -> list[bool]:
        now = self._clock()
        return [until <= now for until in self._down_until]

    async def open(self) -> None:
        for client in self._clients:
            await client.open()

    async def close(self) -> None:
        for client in self._clients:
            await client.close()

    # --- routing ---------------------------------------------------------------------------
    def _order(self, conversation_id: str | None) -> list[int]:
        if conversation_id is None:  # no conversation: take turns
            self._next_any = (self._next_any + 1) % len(self._clients)
            order = [(self._next_any + i) % len(self._clients) for i in range(len(self._clients))]
        else:
            order = home_order(conversation_id, self._urls)
        up = self.up()
        # Servers believed down go last, not away: when all are down, each is still tried.
        return [i for i in order if up[i]] + [i for i in order if not up[i]]

    async def _call(self, conversation_id: str | None,
                    call: Callable[[RasaClient], Awaitable[T]]) -> T:
        unreachable: RasaUnreachable | None = None
        for index in self._order(conversation_id):
            try:
                result = await call(self._clients[index])
            except RasaUnreachable as exc:
                self._mark_down(index, exc)
                unreachable = exc
                continue
            if self._down_until[index]:
                self._down_until[index] = 0.0
                if len(self._urls) > 1:
                    log.warning("rasa server %d of %d answers again", index + 1,
                                len(self._urls))
            return result
        assert unreachable is not None
        raise RasaUnavailable(f"no Rasa server reachable ({unreachable})")

    def _mark_down(self, index: int, exc: Exception) -> None:
        if self._down_until[index] <= self._clock() and len(self._urls) > 1:
            log.warning("rasa server %d of %d unreachable (%s); its conversations go to the "
                        "others for %.0fs", index + 1, len(self._urls), exc, self._down_for_s)
        self._down_until[index] = self._clock() + self._down_for_s

    # --- what the engine calls (RasaClient's interface) ---------------------------------------
    async def send(self, *, conversation_id: str, text: RasaText,
                   metadata: dict[str, Any]) -> RasaTurn:
        return await self._call(conversation_id, lambda c: c.send(
            conversation_id=conversation_id, text=text, metadata=metadata))

    async def escalate(self, *, conversation_id: str, text: RasaText, metadata: dict[str, Any],
                       trigger: dict[str, Any], record_message: bool = True) -> RasaTurn:
        return await self._call(conversation_id, lambda c: c.escalate(
            conversation_id=conversation_id, text=text, metadata=metadata, trigger=trigger,
            record_message=record_message))

    async def find_turn(self, *, conversation_id: str, message_id: str,
                        escalated: bool) -> TurnLookup:
        return await self._call(conversation_id, lambda c: c.find_turn(
            conversation_id=conversation_id, message_id=message_id, escalated=escalated))

    async def set_paused(self, conversation_id: str, paused: bool) -> None:
        await self._call(conversation_id, lambda c: c.set_paused(conversation_id, paused))

    async def parse(self, text: RasaText) -> dict[str, Any]:
        return await self._call(None, lambda c: c.parse(text))

    async def is_ready(self) -> bool:
        """Ready while any server is (the others' conversations move to it); all servers are
        asked at once, each for at most a couple of seconds."""
        return any(await asyncio.gather(*(client.is_ready() for client in self._clients)))
