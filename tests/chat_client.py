"""A scripted browser tab that speaks the web chat websocket protocol (channels/webchat.py).

Frames are read in the background and kept until a test takes them, so waiting for one kind
(an ack) never throws away another that arrived first (a reply)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Callable

import aiohttp

Frame = dict[str, Any]


class ChatClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.session: str | None = None
        self.history: list[Frame] = []
        self.close_code: int | None = None
        self._frames: list[Frame] = []
        self._arrived = asyncio.Condition()
        self._closed = False
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                async with self._arrived:
                    self._frames.append(json.loads(msg.data))
                    self._arrived.notify_all()
        async with self._arrived:
            self._closed = True
            self.close_code = self.ws.close_code
            self._arrived.notify_all()

    async def take(self, match: Callable[[Frame], bool], *, timeout: float = 5.0) -> Frame:
        """The first kept frame that matches (waiting for it); other frames stay kept."""
        async def find() -> Frame:
            async with self._arrived:
                while True:
                    for i, frame in enumerate(self._frames):
                        if match(frame):
                            return self._frames.pop(i)
                    if self._closed:
                        raise ConnectionError(f"socket closed ({self.close_code})")
                    await self._arrived.wait()
        return await asyncio.wait_for(find(), timeout)

    async def hello(self, session: str | None = None) -> Frame:
        await self.ws.send_json({"type": "hello", "session": session})
        frame = await self.next("session")
        self.session, self.history = frame["session"], frame["history"]
        return frame

    async def say(self, text: str, *, msg_id: str | None = None) -> str:
        """Send a message without waiting for its acknowledgement; returns its id."""
        msg_id = msg_id or uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "id": msg_id, "text": text})
        return msg_id

    async def send(self, text: str, *, msg_id: str | None = None) -> Frame:
        """Send a message and wait until the gateway acknowledged it (it is journalled)."""
        msg_id = await self.say(text, msg_id=msg_id)
        return await self.take(lambda f: f["type"] == "ack" and f["id"] == msg_id)

    async def press(self, title: str, payload: str) -> str:
        msg_id = uuid.uuid4().hex
        await self.ws.send_json({"type": "button", "id": msg_id, "title": title, "payload": payload})
        return msg_id

    async def next(self, kind: str, *, timeout: float = 5.0) -> Frame:
        return await self.take(lambda f: f["type"] == kind, timeout=timeout)

    async def reply(self, *, timeout: float = 5.0) -> Frame:
        return await self.next("message", timeout=timeout)

    async def turn(self, text: str, *, timeout: float = 30.0) -> list[Frame]:
        """Say something and collect every reply of that turn (a turn ends with typing off)."""
        await self.say(text)
        return await self.replies(timeout=timeout)

    async def tap(self, title: str, payload: str, *, timeout: float = 30.0) -> list[Frame]:
        await self.press(title, payload)
        return await self.replies(timeout=timeout)

    async def replies(self, *, timeout: float = 30.0) -> list[Frame]:
        async def read() -> list[Frame]:
            messages: list[Frame] = []
            while True:
                frame = await self.take(lambda f: f["type"] in ("message", "typing"),
                                        timeout=timeout)
                if frame["type"] == "message":
                    messages.append(frame)
                elif not frame["on"] and messages:
                    return messages
        return await asyncio.wait_for(read(), timeout)

    def kept(self, kind: str = "message") -> list[Frame]:
        """Frames of a kind that arrived and were not taken yet."""
        return [f for f in self._frames if f["type"] == kind]

    async def silence(self, seconds: float = 0.5) -> list[Frame]:
        """Message frames that arrive within `seconds` (expected: none). Prefer an explicit
        signal where there is one: an acknowledgement, engine.idle(), a counter at a fake."""
        await asyncio.sleep(seconds)
        found = self.kept()
        self._frames = [f for f in self._frames if f["type"] != "message"]
        return found

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)
