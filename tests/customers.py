"""Customers who behave like the web chat widget through failures, and a tally of what they got.

A `WidgetCustomer` keeps its session token and an outbox of messages the gateway has not
acknowledged yet; when the socket drops (the gateway was killed), it reconnects with the same
token, merges the history it is given and sends the unacknowledged messages again with the same
ids, as channels/webchat_static/widget.js does. Every message frame (and history entry) is kept
by id: the widget shows a message once per id, so a reply delivered twice with the same id (sent
again after a crash, before the gateway recorded it as delivered) is "resent", not a duplicate.

`tally` counts, for customers who each asked distinct questions with known answers: questions
never answered (lost), answered more than once under different ids (duplicated), answered out of
the order asked, and replies delivered again with the same id (resent)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import aiohttp

Frame = dict[str, Any]


@dataclass
class WidgetCustomer:
    url: str
    http: aiohttp.ClientSession
    session: str | None = None
    outbox: dict[str, str] = field(default_factory=dict)  # id -> text, not acknowledged yet
    asked: list[str] = field(default_factory=list)
    seen: dict[str, Frame] = field(default_factory=dict)  # message id -> frame (first seen)
    order: list[str] = field(default_factory=list)  # message ids in the order first seen
    live: Counter[str] = field(default_factory=Counter)  # live deliveries per message id
    reconnects: int = 0
    # The widget sends an unacknowledged message again after 10 s on a live socket (a frame
    # lost, a "try again" answer); shorter here so tests do not wait for nothing.
    resend_after_s: float = 2.0
    _sent_at: dict[str, float] = field(default_factory=dict)
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _closing: bool = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        self._flusher = asyncio.create_task(self._flush_stale())
        async with asyncio.timeout(30):
            await self._ready.wait()

    async def stop(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        for task in (self._task, getattr(self, "_flusher", None)):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def say(self, text: str) -> str:
        msg_id = uuid.uuid4().hex
        self.asked.append(text)
        self.outbox[msg_id] = text
        await self._send(msg_id, text)
        return msg_id

    async def acked(self, *, timeout_s: float = 30.0) -> None:
        """Wait until the gateway acknowledged everything said so far."""
        async with asyncio.timeout(timeout_s):
            while self.outbox:
                await asyncio.sleep(0.02)

    def replies(self, *roles: str) -> list[Frame]:
        roles = roles or ("bot",)
        return [self.seen[i] for i in self.order if self.seen[i].get("role") in roles]

    async def _send(self, msg_id: str, text: str) -> None:
        ws = self._ws
        if ws is None or ws.closed or not self._ready.is_set():
            return  # sent again after the reconnect
        try:
            await ws.send_json({"type": "message", "id": msg_id, "text": text})
            self._sent_at[msg_id] = asyncio.get_running_loop().time()
        except (ConnectionError, RuntimeError):
            pass

    async def _flush_stale(self) -> None:
        """The widget's flushOutbox(true): unacknowledged messages go again, same ids."""
        while True:
            await asyncio.sleep(0.5)
            now = asyncio.get_running_loop().time()
            for msg_id, text in list(self.outbox.items()):
                if now - self._sent_at.get(msg_id, 0.0) > self.resend_after_s:
                    await self._send(msg_id, text)

    async def _run(self) -> None:
        while not self._closing:
            try:
                self._ws = await self.http.ws_connect(f"{self.url}/webchat/ws",
                                                      timeout=aiohttp.ClientWSTimeout(ws_close=2))
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.25)
                continue
            try:
                await self._ws.send_json({"type": "hello", "session": self.session})
                async for msg in self._ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    await self._on(json.loads(msg.data))
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                pass
            self._ready.clear()
            if not self._closing:
                self.reconnects += 1
                await asyncio.sleep(0.25)

    async def _on(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "session":
            self.session = frame["session"]
            for entry in frame.get("history") or ():
                self._keep(entry)
            self._ready.set()
            for msg_id, text in list(self.outbox.items()):  # the widget's flushOutbox
                await self._send(msg_id, text)
        elif kind == "ack":
            self.outbox.pop(str(frame.get("id")), None)
        elif kind == "message":
            self.live[str(frame.get("id"))] += 1
            self._keep(frame)
        elif kind == "error" and frame.get("code") == "try_again":
            pass  # the message stays in the outbox and goes again on the next flush

    def _keep(self, entry: Frame) -> None:
        msg_id = str(entry.get("id"))
        if msg_id not in self.seen:
            self.seen[msg_id] = entry
            self.order.append(msg_id)


@dataclass
class Tally:
    questions: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    resent: int = 0
    honest_notices: int = 0  # "I'm having trouble..." and the like (role system)

    def line(self) -> str:
        return (f"{self.questions} questions: answered {self.answered}, lost {self.lost}, "
                f"answered twice {self.duplicated}, out of order {self.out_of_order}; "
                f"resent after a crash (same id) {self.resent}; honest notices "
                f"{self.honest_notices}")

    def add(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(vars(self).values(), vars(other).values())))


def tally(customers: Sequence[WidgetCustomer], answers: Mapping[str, str]) -> Tally:
    """answers: question -> the bot's known answer text."""
    total = Tally()
    for customer in customers:
        texts = [f["text"] for f in customer.replies("bot")]
        answered_at: list[int] = []
        one = Tally(questions=len(customer.asked),
                    honest_notices=len(customer.replies("system")),
                    resent=sum(n - 1 for n in customer.live.values() if n > 1))
        for question in customer.asked:
            hits = [i for i, text in enumerate(texts) if text == answers[question]]
            if not hits:
                one.lost += 1
                continue
            one.answered += 1
            one.duplicated += len(hits) - 1
            answered_at.append(hits[0])
        one.out_of_order = sum(1 for a, b in zip(answered_at, answered_at[1:]) if b < a)
        total = total.add(one)
    return total


async def settle(customers: Sequence[WidgetCustomer], answers: Mapping[str, str], *,
                 timeout_s: float) -> Tally:
    """Wait until every question has its answer (or timeout_s passed), then tally."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline and tally(customers, answers).lost:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # let late duplicates, if any, arrive before counting
    return tally(customers, answers)
