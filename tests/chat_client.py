"""A scripted browser tab that speaks the web chat websocket protocol (channels/webchat.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp


class ChatClient:
    """A scripted browser tab: speaks the web chat websocket protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.session: str | None = None
        self.history: list[dict[str, Any]] = []

    async def hello(self, session: str | None = None) -> dict[str, Any]:
        await self.ws.send_json({"type": "hello", "session": session})
        frame = await self.next("session")
        self.session, self.history = frame["session"], frame["history"]
        return frame

    async def say(self, text: str, *, msg_id: str | None = None) -> str:
        msg_id = msg_id or uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "id": msg_id, "text": text})
        return msg_id

    async def press(self, title: str, payload: str) -> str:
        msg_id = uuid.uuid4().hex
        await self.ws.send_json({"type": "button", "id": msg_id, "title": title, "payload": payload})
        return msg_id

    async def next(self, kind: str, *, timeout: float = 5.0) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            while True:
                frame = json.loads((await self.ws.receive()).data)
                if frame["type"] == kind:
                    return frame
        return await asyncio.wait_for(read(), timeout)

    async def reply(self, *, timeout: float = 5.0) -> dict[str, Any]:
        return await self.next("message", timeout=timeout)

    async def turn(self, text: str, *, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Say something and collect every reply of that turn (a turn ends with typing off)."""
        await self.say(text)
        return await self.replies(timeout=timeout)

    async def tap(self, title: str, payload: str, *, timeout: float = 30.0) -> list[dict[str, Any]]:
        await self.press(title, payload)
        return await self.replies(timeout=timeout)

    async def replies(self, *, timeout: float = 30.0) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            messages: list[dict[str, Any]] = []
            while True:
                frame = json.loads((await self.ws.receive()).data)
                if frame["type"] == "message":
                    messages.append(frame)
                elif frame["type"] == "typing" and not frame["on"] and messages:
                    return messages
        return await asyncio.wait_for(read(), timeout)

    async def silence(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Frames of a given kind that arrive within `seconds` (expected: none)."""
        frames = []
        try:
            while True:
                msg = await asyncio.wait_for(self.ws.receive(), seconds)
                frame = json.loads(msg.data)
                if frame["type"] == "message":
                    frames.append(frame)
        except asyncio.TimeoutError:
            return frames
