"""The gateway's client for the Rasa server's HTTP API (REST channel + conversations API)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.messages import Button, OutboundMessage

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not be reached or failed; the message may be retried later."""


class RasaClient:
    def __init__(self, *, base_url: str, token: str | None, timeout_s: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._http = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    @property
    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("RasaClient.open() was not called")
        return self._http

    async def send(self, *, conversation_id: str, text: str,
                   metadata: dict[str, Any]) -> list[OutboundMessage]:
        payload = {"sender": conversation_id, "message": text, "metadata": metadata}
        url = f"{self._base_url}/webhooks/rest/webhook"
        try:
            async with self._session.post(url, json=payload, timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(body, list):
            raise RasaUnavailable("Rasa answered with an unexpected body")
        return [m for m in (to_outbound(item) for item in body) if m is not None]

    async def parse(self, text: str) -> dict[str, Any]:
        """NLU only (intent, entities, FAQ ranking), without touching any conversation."""
        try:
            async with self._session.post(f"{self._base_url}/model/parse", json={"text": text},
                                          params=self._auth(), timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa parse answered HTTP {resp.status}")
                return dict(await resp.json(content_type=None))
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def escalate(self, *, conversation_id: str, text: str, metadata: dict[str, Any],
                       trigger: dict[str, str]) -> list[OutboundMessage]:
        # The trigger travels as an entity of the triggered intent, so the handoff action sees it
        # in latest_message however Rasa orders the session start.
        """Record the customer's message without letting the bot answer it, note why we escalate,
        and run the handoff intent; returns what the bot says (the handoff confirmation)."""
        base = f"{self._base_url}/conversations/{quote(conversation_id, safe='')}"
        events = [{"event": "user", "text": text, "metadata": metadata,
                   "parse_data": {"text": text, "entities": [],
                                  "intent": {"name": "human_handoff", "confidence": 1.0}}}]
        try:
            async with self._session.post(f"{base}/tracker/events", json=events,
                                          params=self._auth(), timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa events answered HTTP {resp.status}")
            async with self._session.post(f"{base}/trigger_intent",
                                          json={"name": "human_handoff",
                                                "entities": {"handoff_trigger": trigger}},
                                          params=self._auth(),
                                          timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa trigger_intent answered HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return [m for m in (to_outbound(item) for item in body.get("messages") or []) if m]

    async def pause(self, conversation_id: str) -> None:
        await self._append_event(conversation_id, {"event": "pause"})

    async def resume(self, conversation_id: str) -> None:
        await self._append_event(conversation_id, {"event": "resume"})

    async def _append_event(self, conversation_id: str, event: dict[str, Any]) -> None:
        """Best effort: the gateway's own routing already keeps the bot silent during a handoff;
        pausing Rasa's tracker as well keeps its state honest for analytics and other clients."""
        url = f"{self._base_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        try:
            async with self._session.post(url, json=event, params=self._auth(),
                                          timeout=self._timeout) as resp:
                if resp.status != 200:
                    log.warning("Rasa %s for %s answered HTTP %d", event["event"],
                                conversation_id, resp.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("Rasa %s for %s failed: %s", event["event"], conversation_id, exc)

    async def is_ready(self) -> bool:
        try:
            async with self._session.get(f"{self._base_url}/status",
                                         params=self._auth(), timeout=self._timeout) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    def _auth(self) -> dict[str, str]:
        return {"token": self._token} if self._token else {}


def to_outbound(item: dict[str, Any]) -> OutboundMessage | None:
    """One REST-channel response (text / buttons / image / custom) as an OutboundMessage."""
    text = str(item.get("text") or "")
    buttons = tuple(
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in item.get("buttons") or ()
        if b.get("payload")
    )
    image = item.get("image")
    custom = item.get("custom")
    if not text and isinstance(custom, dict):
        text = str(custom.get("text") or "")
    if not text and not buttons and not image:
        return None
    return OutboundMessage(text=text, buttons=buttons, image_url=image)
