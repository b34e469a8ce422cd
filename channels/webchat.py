"""The web chat channel: a widget page and a websocket per browser tab.

Protocol (JSON text frames):
  client -> server  {"type": "hello", "session": <token or null>}
                    {"type": "message", "id": <client message id>, "text": "..."}
                    {"type": "button", "id": <client message id>, "payload": "/affirm", "title": "Yes"}
  server -> client  {"type": "session", "session": <token>, "history": [<entry>...]}
                    (a reply may arrive both live and in a history: clients de-duplicate by id)
                    {"type": "ack", "id": ..., "duplicate": bool}
                    {"type": "typing", "on": bool}   (off ends every turn, after its replies)
                    {"type": "message", "id", "role", "text", "buttons", "image_url", "ts"}
                    {"type": "error", "code": ..., "text": ..., "id": <refused message id>?}
  The customer's own messages are echoed to their other open tabs as role "customer".

The session token is an unguessable secret kept in the browser's localStorage: it maps to the
conversation, so a reload (or a second tab) resumes the same conversation with its history. Client
message ids make resends after a reconnect harmless: a duplicate is acknowledged, not answered.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Mapping, Sequence

from aiohttp import WSMsgType, web

from bot.channel_port import (REFUSED, STORE_ERRORS, ChannelFacts, CustomerIdKind,
                              InboundMessage, Intake, OutboundMessage)
from bot.http_origin import origin_allowed
from bot.safe_json import BadJson, loads

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "webchat_static"
MAX_FRAME_BYTES = 64 * 1024  # what one frame may carry: a larger one is answered "too_large"
# What the socket reads at all before failing the connection (close 1009): a frame between the
# two limits gets an error frame, so a client that overshoots keeps its socket and session.
READ_LIMIT_BYTES = 4 * MAX_FRAME_BYTES
RATE_WINDOW_S = 10.0
RATE_MAX_MESSAGES = 20
HISTORY_LIMIT = 100
FRAMES_TOPIC = "webchat-frames"  # replies reach the instance that holds the customer's socket
CLOSE_ERASED = 4000  # the conversation was erased: the widget starts a new one


FACTS = ChannelFacts(name="web", label="Web chat", customer_noun="Web chat visitor",
                     customer_id=CustomerIdKind.SESSION,
                     icon="M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10"
                          "l-4.2 3.6c-.5.4-1.3 0-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z")


def build(intake: Intake, env: Mapping[str, str]) -> WebChatChannel:
    # Extra origins allowed to open the websocket (the page's own origin always is).
    origins = [o.strip() for o in env.get("WEBCHAT_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    return WebChatChannel(intake, allowed_origins=origins)


class WebChatChannel:
    name = FACTS.name
    facts = FACTS

    def __init__(self, intake: Intake, *, allowed_origins: Sequence[str] = ()) -> None:
        self._intake = intake
        self._allowed_origins = {o.rstrip("/") for o in allowed_origins}
        self._sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._tokens: dict[web.WebSocketResponse, str] = {}  # each open tab's session token
        intake.live.subscribe(FRAMES_TOPIC, self._on_frames)
        intake.live.on_resume(self._resync)

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_get("/webchat/ws", self._websocket)
        app.router.add_static("/webchat/static/", STATIC_DIR, show_index=False)
        app.on_shutdown.append(self._on_shutdown)

    async def _on_shutdown(self, app: web.Application) -> None:
        # aiohttp waits for open handlers (up to 60 s) before cleanup runs close(): close the
        # tabs' sockets first, so a restart is prompt and widgets reconnect to the new instance.
        await self.close()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close()

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    # --- delivery ------------------------------------------------------------------------
    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        # No open socket is fine: the transcript keeps the reply and the next page load shows it.
        # typing-off closes the batch, so a client knows every reply of this turn has arrived.
        # Published on the bus: the customer's tab may be connected to another gateway instance.
        frames = [{"type": "message", **m.to_dict()} for m in messages]
        frames.append({"type": "typing", "on": False})
        await self._intake.live.publish(FRAMES_TOPIC, {"conversation_id": conversation_id,
                                                       "frames": frames})

    async def _on_frames(self, message: dict[str, Any]) -> None:
        for ws in list(self._sockets.get(str(message.get("conversation_id")), ())):
            for frame in message.get("frames") or ():
                await _send(ws, frame)

    async def _resync(self) -> None:
        """The bus was away: replies published meanwhile never reached the open tabs. Each gets
        its session again, with the history (the widget re-renders it, de-duplicating by id)."""
        for conversation_id, sockets in list(self._sockets.items()):
            try:
                history = await self._intake.history(conversation_id, limit=HISTORY_LIMIT)
            except STORE_ERRORS as exc:  # away again: the next resume sends it
                log.warning("web chat history not resent: %s", exc)
                continue
            for ws in list(sockets):
                await _send(ws, {"type": "session", "session": self._tokens.get(ws),
                                 "history": history})

    async def forget(self, conversation_id: str) -> None:
        """The conversation was erased: its tabs start over (their session token is gone)."""
        for ws in list(self._sockets.pop(conversation_id, ())):
            await ws.close(code=CLOSE_ERASED, message=b"conversation erased")

    # --- websocket -----------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not origin_allowed(request, also=self._allowed_origins, required=False):
            raise web.HTTPForbidden(text="origin not allowed")
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=READ_LIMIT_BYTES)
        await ws.prepare(request)
        conversation_id: str | None = None
        recent: deque[float] = deque()
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    if frame.type == WSMsgType.BINARY:
                        await _error(ws, "unsupported", "Only text messages are supported.")
                    continue
                if len(frame.data.encode()) > MAX_FRAME_BYTES:
                    await _error(ws, "too_large", "That message is too long to send.")
                    continue
                try:
                    data = loads(frame.data)
                    if not isinstance(data, dict):
                        raise BadJson("not an object")
                except BadJson:
                    await _error(ws, "bad_frame", "That message could not be read.")
                    continue
                kind = data.get("type")
                if kind == "hello":
                    conversation_id = await self._hello(ws, data.get("session"), conversation_id)
                elif conversation_id is None:
                    await _error(ws, "no_session", "Say hello first.")
                elif kind in ("message", "button"):
                    if _rate_limited(recent):
                        await _error(ws, "rate_limited",
                                     "You're sending messages very fast. Please wait a moment.",
                                     message_id=str(data.get("id") or "")[:100] or None)
                        continue
                    await self._inbound(ws, conversation_id, data)
                else:
                    await _error(ws, "bad_frame", f"Unknown frame type {repr(kind)[:40]}.")
        finally:
            self._tokens.pop(ws, None)
            if conversation_id is not None:
                self._forget(conversation_id, ws)
        return ws

    def _forget(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[conversation_id]

    async def _hello(self, ws: web.WebSocketResponse, token: Any,
                     previous: str | None) -> str:
        intake = self._intake
        conversation_id = (await intake.session(token)
                           if isinstance(token, str) and 0 < len(token) <= 100 else None)
        if conversation_id is None:
            token = secrets.token_urlsafe(24)
            conversation_id = f"web:{uuid.uuid4().hex}"
            await intake.open_conversation(conversation_id, customer_id=conversation_id)
        await intake.keep_session(token, conversation_id)  # sliding expiry
        if previous is not None and previous != conversation_id:
            self._forget(previous, ws)
        self._sockets[conversation_id].add(ws)
        self._tokens[ws] = token
        history = await intake.history(conversation_id, limit=HISTORY_LIMIT)
        await _send(ws, {"type": "session", "session": token, "history": history})
        return conversation_id

    async def _inbound(self, ws: web.WebSocketResponse, conversation_id: str,
                       data: dict[str, Any]) -> None:
        client_id = str(data.get("id") or "")[:100]
        if not client_id:
            await _error(ws, "bad_frame", "Message id missing.")
            return
        is_button = data.get("type") == "button"
        text = str((data.get("title") if is_button else data.get("text")) or "")
        message = InboundMessage(
            channel=self.name,
            conversation_id=conversation_id,
            customer_id=conversation_id,
            text=text,
            platform_message_id=f"{conversation_id}:{client_id}",
            button_payload=str(data.get("payload")) if is_button else None,
            received_at=time.time(),
        )
        try:
            accepted = await self._intake.accept(message)
        except REFUSED as exc:
            # Not acknowledged: the widget keeps the message and sends it again.
            log.warning("web chat message not accepted: %s", exc)
            await _error(ws, "try_again", "I couldn't take that message just now; it will be "
                                          "sent again in a moment.")
            return
        await _send(ws, {"type": "ack", "id": client_id, "duplicate": not accepted})
        if accepted:
            echo = {"type": "message", "id": message.platform_message_id, "role": "customer",
                    "text": text, "buttons": [], "image_url": None, "ts": message.received_at}
            for peer in list(self._sockets.get(conversation_id, ())):
                if peer is not ws:  # the customer's other tabs show what they said, too
                    await _send(peer, echo)
                await _send(peer, {"type": "typing", "on": True})


def _rate_limited(recent: deque[float]) -> bool:
    now = time.monotonic()
    while recent and now - recent[0] > RATE_WINDOW_S:
        recent.popleft()
    if len(recent) >= RATE_MAX_MESSAGES:
        return True
    recent.append(now)
    return False


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    if ws.closed:
        return
    try:
        await ws.send_str(json.dumps(frame))
    except (ConnectionResetError, RuntimeError) as exc:
        log.debug("websocket send failed: %s", exc)


async def _error(ws: web.WebSocketResponse, code: str, text: str, *,
                 message_id: str | None = None) -> None:
    frame: dict[str, Any] = {"type": "error", "code": code, "text": text}
    if message_id:
        frame["id"] = message_id  # which message was refused, so the client does not resend it
    await _send(ws, frame)
