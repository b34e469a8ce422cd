"""The gateway's client for the Rasa server's HTTP API: the REST channel for customer messages,
the conversations API for escalations, pause/resume and looking a turn up after a crash.

Two facts of Rasa 3.6 shape it:
- Rasa holds one lock per conversation for a whole turn (actions included), shared by the REST
  channel and the conversations API. Nothing here may be called for a conversation from inside
  that conversation's running turn; the engine calls it only while it holds the conversation.
- Rasa's REST channel keeps no message id: a message sent twice is two turns. The gateway puts its
  own id into the user event's metadata (`message_id`) and, after a crash, looks in the tracker
  for it before sending again (`find_turn`)."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.messages import Button, OutboundMessage
from bot.rasa_input import RasaText

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
READY_TIMEOUT_S = 2.0
EXTERNAL_PREFIX = "EXTERNAL: "  # Rasa's text for intents triggered through its API
HANDOFF_INTENT = "human_handoff"
CHECKPOINT_SLOT = "gateway_checkpoint"  # domain.yml: not featurized, written only by find_turn
# Instructions the action server sends the gateway as custom payloads (never shown to anyone).
DIRECTIVE_KEY = "gateway"


class RasaUnavailable(Exception):
    """Rasa could not be reached or failed; the message is kept and retried later."""


class RasaUnreachable(RasaUnavailable):
    """No connection could be made: the request never reached the server (another server may
    take it, see bot/rasa_pool.py)."""


@dataclass(frozen=True, slots=True)
class RasaTurn:
    """What Rasa said in one turn, and the instructions its actions gave the gateway."""

    messages: tuple[OutboundMessage, ...]
    directives: tuple[str, ...] = ()

    def to_dicts(self) -> tuple[dict[str, Any], ...]:
        return (*(m.to_dict() for m in self.messages),
                *({"directive": d} for d in self.directives))

    @classmethod
    def from_dicts(cls, items: Any) -> RasaTurn:
        messages, directives = [], []
        for item in items or ():
            if "directive" in item:
                directives.append(str(item["directive"]))
            else:
                messages.append(OutboundMessage.from_dict(item))
        return cls(tuple(messages), tuple(directives))


@dataclass(frozen=True, slots=True)
class TurnLookup:
    """received: Rasa has our message; turn: what it answered (None for an escalation whose
    message was recorded but whose handoff intent has not run yet)."""

    received: bool
    turn: RasaTurn | None

    @classmethod
    def missing(cls) -> TurnLookup:
        return cls(received=False, turn=None)


_PATH_SAFE = re.compile(r"^[A-Za-z0-9:+._@~-]{1,200}$")


def conversation_path(conversation_id: str) -> str:
    """The conversation id as a URL path segment of Rasa's conversations API.

    Rasa's router (Sanic 21.12) does not percent-decode path parameters, while aiohttp's URL
    handling decodes some escapes (%3A) and keeps others (%2B): quoting made SMS pauses land on a
    conversation "sms:%2B1555..." that is not the customer's. So the id goes in literally, and
    only ids made of characters that need no escaping are accepted (every channel's are)."""
    if not _PATH_SAFE.match(conversation_id):
        raise ValueError(f"conversation id {conversation_id!r} cannot be used in Rasa's API")
    return conversation_id


class RasaClient:
    def __init__(self, *, base_url: str, token: str | None, timeout_s: float,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        # A host that is off answers nothing at all: give up connecting long before a turn's
        # own timeout, so the conversation moves to another server (bot/rasa_pool.py).
        self._timeout = aiohttp.ClientTimeout(total=timeout_s,
                                              sock_connect=min(connect_timeout_s, timeout_s))
        self._http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("RasaClient.open() was not called")
        return self._http

    @property
    def base_url(self) -> str:
        return self._base_url

    def _conversation(self, conversation_id: str) -> str:
        return f"{self._base_url}/conversations/{conversation_path(conversation_id)}"

    async def _json(self, method: str, url: str, *, what: str, auth: bool = True,
                    **kwargs: Any) -> Any:
        params = self._auth() if auth else {}
        try:
            async with self._session.request(method, url, params=params, timeout=self._timeout,
                                             **kwargs) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"Rasa {what} answered HTTP {resp.status}")
                return await resp.json(content_type=None)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise RasaUnreachable(f"Rasa {what}: {type(exc).__name__}: {exc}") from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa {what}: {type(exc).__name__}: {exc}") from exc

    # --- turns ----------------------------------------------------------------------------
    async def send(self, *, conversation_id: str, text: RasaText,
                   metadata: dict[str, Any]) -> RasaTurn:
        """One customer message through Rasa's REST channel (which takes no token: Rasa's port
        must stay on 127.0.0.1, see docs/threat-model.md)."""
        body = await self._json("POST", f"{self._base_url}/webhooks/rest/webhook",
                                what="REST channel", auth=False,
                                json={"sender": conversation_id, "message": text.text,
                                      "metadata": metadata})
        if not isinstance(body, list):
            raise RasaUnavailable("Rasa answered with an unexpected body")
        return turn_of(body)

    async def escalate(self, *, conversation_id: str, text: RasaText, metadata: dict[str, Any],
                       trigger: dict[str, Any], record_message: bool = True) -> RasaTurn:
        """Record the customer's message without letting the bot answer it, then run the handoff
        intent with the trigger as its entity (so the handoff action sees why)."""
        base = self._conversation(conversation_id)
        if record_message:
            event = {"event": "user", "text": text.text, "metadata": metadata,
                     "parse_data": {"text": text.text, "entities": [],
                                    "intent": {"name": HANDOFF_INTENT, "confidence": 1.0}}}
            await self._json("POST", f"{base}/tracker/events", what="events", json=[event])
        try:
            body = await self._json("POST", f"{base}/trigger_intent", what="trigger_intent",
                                    json={"name": HANDOFF_INTENT,
                                          "entities": {"handoff_trigger": trigger}})
        except RasaUnreachable as exc:
            if not record_message:
                raise
            # The message is recorded already: another server must not record it again. As a
            # plain outage, the engine looks it up first and then runs only the handoff.
            raise RasaUnavailable(str(exc)) from exc
        return turn_of(body.get("messages") or [] if isinstance(body, dict) else [])

    async def find_turn(self, *, conversation_id: str, message_id: str,
                        escalated: bool) -> TurnLookup:
        """After a crash: whether Rasa got our message `message_id`, and what it answered.

        The lookup goes through Rasa's conversation lock, so a turn still running for this
        message is waited for instead of being taken as missing: it appends one event that the
        dialogue never sees (the unfeaturized slot gateway_checkpoint; Rasa refuses an empty
        list of events)."""
        checkpoint = {"event": "slot", "name": CHECKPOINT_SLOT, "value": message_id}
        tracker = await self._json("POST", f"{self._conversation(conversation_id)}/tracker/events",
                                   what="tracker", json=[checkpoint])
        events = tracker.get("events") or [] if isinstance(tracker, dict) else []
        for index, event in enumerate(events):
            if event.get("event") == "user" and \
                    (event.get("metadata") or {}).get("message_id") == message_id:
                return _turn_after(events[index + 1:], escalated=escalated)
        return TurnLookup.missing()

    async def set_paused(self, conversation_id: str, paused: bool) -> None:
        """Pause or resume the tracker; only outside a running turn of this conversation. A
        resume is followed by action_listen: the paused turn ended without one, and without it
        Rasa's policies take the customer's next message for the middle of a turn (and answer
        it with silence)."""
        events: list[dict[str, Any]] = [{"event": "pause"}] if paused else [
            {"event": "resume"}, {"event": "action", "name": "action_listen"}]
        await self._json("POST", f"{self._conversation(conversation_id)}/tracker/events",
                         what="pause" if paused else "resume", json=events)

    async def parse(self, text: RasaText) -> dict[str, Any]:
        """NLU only (intent, entities, FAQ ranking), without touching any conversation."""
        body = await self._json("POST", f"{self._base_url}/model/parse", what="parse",
                                json={"text": text.text})
        return dict(body) if isinstance(body, dict) else {}

    async def is_ready(self) -> bool:
        try:
            async with self._session.get(f"{self._base_url}/status", params=self._auth(),
                                         timeout=aiohttp.ClientTimeout(total=READY_TIMEOUT_S)
                                         ) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    def _auth(self) -> dict[str, str]:
        return {"token": self._token} if self._token else {}


def _turn_after(events: list[dict[str, Any]], *, escalated: bool) -> TurnLookup:
    """The bot's messages that followed our user event, up to the next customer message."""
    items: list[dict[str, Any]] = []
    handoff_ran = not escalated
    for event in events:
        if event.get("event") == "user":
            if escalated and str(event.get("text") or "").startswith(EXTERNAL_PREFIX):
                handoff_ran = True
                continue
            break
        if event.get("event") == "bot":
            items.append({"text": event.get("text"), **(event.get("data") or {})})
    if not handoff_ran:
        return TurnLookup(received=True, turn=None)
    return TurnLookup(received=True, turn=turn_of(items))


def turn_of(items: list[Any]) -> RasaTurn:
    messages: list[OutboundMessage] = []
    directives: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        custom = item.get("custom")
        if isinstance(custom, dict) and custom.get(DIRECTIVE_KEY):
            directives.append(str(custom[DIRECTIVE_KEY]))
            continue
        message = to_outbound(item)
        if message is not None:
            messages.append(message)
    return RasaTurn(tuple(messages), tuple(directives))


def to_outbound(item: dict[str, Any]) -> OutboundMessage | None:
    """One REST-channel response (text / buttons / image / custom) as an OutboundMessage."""
    text = str(item.get("text") or "")
    buttons = tuple(
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in item.get("buttons") or ()
        if isinstance(b, dict) and b.get("payload")
    )
    image = item.get("image")
    custom = item.get("custom")
    if not text and isinstance(custom, dict):
        text = str(custom.get("text") or "")
    if not text and not buttons and not image:
        return None
    return OutboundMessage(text=text, buttons=buttons,
                           image_url=str(image) if image else None)
