"""The Slack channel: the Events API and button interactions at POST /slack/events through
slack-bolt, replies through slack_sdk's Web API client.

Conversation ids carry the reply address, so any gateway instance can deliver after a restart:
  slack:<team>:<channel>:<thread_ts>   a thread in a channel (one conversation per thread)
  slack:<team>:<channel>:dm            a direct message conversation (one per DM)

The bot answers direct messages, @mentions, every customer message in the channels listed in
SLACK_CHANNELS, and follow-ups in a thread it already takes part in. A Slack message is identified
by team + channel + ts, so Slack's retries and the app_mention + message pair that Slack sends for
one @mention are the same platform message and get a single answer.

Other features of the same Slack app share the one bolt app and route: the agent inbox
(inbox/slack_inbox.py) reserves its channel with reserve_channel(), and the customer side then
ignores everything that happens there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl
from typing import Any, Awaitable, Coroutine, Literal, Mapping, Sequence

import aiohttp
from aiohttp import web
from jsonschema import Draft7Validator
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.channel_port import (REFUSED, Attachment, Button, ChannelFacts, CustomerIdKind,
                              DeliveryFailed, InboundMessage, Intake, OutboundMessage)
from bot.http_bodies import read_bytes
from bot.safe_json import BadJson, loads
from channels.slack_format import HUMAN_SUBTYPES, clip, escape, unescape
from channels.outbound import (PermanentSendError, RetryableSendError, RetryPolicy,
                               send_with_retry,
                               shown_text, split_text)

log = logging.getLogger(__name__)

REQUIRED_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
DEFAULT_API_URL = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"
FORM_TYPE = "application/x-www-form-urlencoded"

MAX_BODY_BYTES = 1024 * 1024  # Slack's events and interaction payloads are far smaller
SECTION_LIMIT = 3000  # characters of text in one section block
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
MAX_BUTTONS = 25  # elements in one actions block
_MENTION = re.compile(r"<[@#!][A-Z0-9^|a-z_-]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]+))?>")


def normalise(text: str) -> str:
    """Slack's markup, as NLU should not see it: user, channel and broadcast mentions removed,
    a link as its label (or its address)."""
    return _LINK.sub(lambda m: m.group(2) or m.group(1), _MENTION.sub(" ", text))


FACTS = ChannelFacts(name="slack", label="Slack", customer_noun="Slack user",
                     customer_id=CustomerIdKind.PLATFORM_USER,
                     icon="M9 3v18M15 3v18M3 9h18M3 15h18", max_text_chars=SECTION_LIMIT,
                     max_buttons=MAX_BUTTONS, normalise=normalise)
BUTTON_ACTION = re.compile(r"^choice-\d+$")
API_TIMEOUT_S = 10

# Slack reports these with HTTP 200 and ok=false, but documents them as temporary.
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout"})


class SlackUnavailable(RuntimeError):
    """The bot's identity could not be fetched; the event is refused (HTTP 500) so Slack retries."""


# --- configuration and addresses ----------------------------------------------------------------
@dataclass(frozen=True)
class SlackConfig:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    channels: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackConfig:
        api_url = (env.get("SLACK_API_URL") or DEFAULT_API_URL).rstrip("/") + "/"
        channels = frozenset(
            c.strip() for c in env.get("SLACK_CHANNELS", "").split(",") if c.strip())
        return cls(bot_token=env["SLACK_BOT_TOKEN"], signing_secret=env["SLACK_SIGNING_SECRET"],
                   api_url=api_url, channels=channels)


@dataclass(frozen=True)
class SlackAddress:
    team: str
    channel: str
    thread_ts: str | None  # None: a direct message, answered outside threads

    @property
    def conversation_id(self) -> str:
        return f"slack:{self.team}:{self.channel}:{self.thread_ts or 'dm'}"

    @classmethod
    def parse(cls, conversation_id: str) -> SlackAddress | None:
        parts = conversation_id.split(":")
        if len(parts) != 4 or parts[0] != "slack" or not all(parts[1:]):
            return None
        thread_ts = None if parts[3] == "dm" else parts[3]
        return cls(team=parts[1], channel=parts[2], thread_ts=thread_ts)


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    bot_id: str | None
    team_id: str | None


def build(intake: Intake, env: Mapping[str, str]) -> SlackChannel:
    return SlackChannel(intake, SlackConfig.from_env(env), retry=RetryPolicy.from_env(env))


# --- the channel --------------------------------------------------------------------------------
class SlackChannel:
    name = FACTS.name
    facts = FACTS

    def __init__(self, intake: Intake, config: SlackConfig, *,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self._intake = intake
        self.retry = retry
        self._config = config
        # No retry handlers: send_with_retry owns retries, so attempts are counted in one place.
        self._client = AsyncWebClient(token=config.bot_token, base_url=config.api_url,
                                      timeout=API_TIMEOUT_S, retry_handlers=[])
        self._session: aiohttp.ClientSession | None = None
        self._identity: BotIdentity | None = None
        self._identity_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._reserved: set[str] = set()  # channels handed to another feature (reserve_channel)
        self._verifier = SignatureVerifier(config.signing_secret)
        self._bolt = self._build_bolt()

    def _build_bolt(self) -> AsyncApp:
        # Bolt injects arguments by name and, unlike for listeners, does not skip `self` here.
        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            return await self._authorize(enterprise_id, team_id)

        # Events and presses in a reserved channel skip the customer listeners below, so listeners
        # registered later (by the feature that reserved it) get them.
        async def for_customers(body: dict[str, Any]) -> bool:
            return channel_of(body) not in self._reserved

        bolt_log = logging.getLogger(f"{__name__}.bolt")
        bolt_log.setLevel(logging.WARNING)  # bolt's INFO lines quote whole request bodies
        bolt = AsyncApp(
            name="helpdesk-slack",
            logger=bolt_log,
            signing_secret=self._config.signing_secret,
            # Bolt only needs a client for its own calls, which it never makes here: a token-less
            # one avoids its "token ignored because authorize is set" warning.
            client=AsyncWebClient(base_url=self._config.api_url, retry_handlers=[]),
            authorize=authorize,
            # Listeners run before the HTTP answer: a 200 means the intake took the message,
            # and a failure becomes a 500 that Slack retries instead of a silently lost message.
            process_before_response=True,
            attaching_conversation_kwargs_enabled=False,  # assistant-thread helpers, unused
        )
        customers = [for_customers]
        bolt.event("app_mention", matchers=customers)(self._on_app_mention)
        bolt.event("message", matchers=customers)(self._on_message)
        bolt.block_action(BUTTON_ACTION, matchers=customers)(self._on_button)
        # Anything else we are subscribed to is acknowledged, or Slack would retry it.
        bolt.event(re.compile(".*"), matchers=customers)(self._on_other_event)
        bolt.error(self._on_listener_error)
        return bolt

    async def _on_listener_error(self, error: Exception) -> BoltResponse:
        if isinstance(error, REFUSED):
            # Not taken: Slack retries the event (up to three times over an hour or so).
            log.warning("slack event not accepted: %s", error)
            return BoltResponse(status=503, body="try again")
        log.error("slack listener failed", exc_info=error)
        return BoltResponse(status=500, body="")

    # --- sharing the Slack app with other features -----------------------------------------
    def reserve_channel(self, channel_id: str) -> AsyncApp:
        """Hand one Slack channel to another feature of the same Slack app (the agent inbox):
        from now on the customer side ignores every event and button press there, and the
        caller registers its own listeners on the returned bolt app, the one behind
        POST /slack/events (same signature checks, same bot identity)."""
        self._reserved.add(channel_id)
        return self._bolt

    @property
    def client(self) -> AsyncWebClient:
        """The Web API client (its HTTP session opens in start()); wrap calls in call()."""
        return self._client

    def mount(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self._events)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT_S))
        self._client.session = self._session
        self._spawn(self._warm_up())

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._client.session = None

    # --- webhook ---------------------------------------------------------------------------
    async def _events(self, request: web.Request) -> web.Response:
        # The signature (and its 5-minute replay window) is checked on the raw bytes before
        # anything is parsed: bolt would parse the body first, and log it whole when refusing it.
        raw = await read_bytes(request, max_bytes=MAX_BODY_BYTES)
        body = self._verified(raw, request.headers)
        if body is None:
            log.warning("slack request refused: missing or invalid signature (%d bytes)",
                        len(raw))
            return web.json_response({"error": "invalid request"}, status=401)
        problem = _unparsable(body, request.content_type)
        if problem is not None:
            log.warning("slack request refused: %s", problem)
            return web.json_response({"error": "bad request", "message": problem}, status=400)
        retry = request.headers.get("X-Slack-Retry-Num")
        if retry:
            log.info("slack redelivery #%s (%s)", retry[:10],
                     request.headers.get("X-Slack-Retry-Reason", "")[:40])
        # Bolt answers url_verification and routes to the listeners below. It reads the content
        # type raw ("APPLICATION/JSON; x" is not JSON to it): it gets the one _unparsable checked.
        headers = {name: value for name, value in request.headers.items()
                   if name.lower() != "content-type"}
        headers["Content-Type"] = request.content_type
        response = await self._bolt.async_dispatch(AsyncBoltRequest(
            body=body, query=request.query_string, headers=headers))
        return await to_aiohttp_response(response)

    def _verified(self, raw: bytes, headers: Any) -> str | None:
        """The body as text when Slack signed it within the last 5 minutes, else None."""
        try:
            body = raw.decode("utf-8")
            valid = self._verifier.is_valid(body, headers.get("X-Slack-Request-Timestamp"),
                                            headers.get("X-Slack-Signature"))
        except (UnicodeDecodeError, ValueError, TypeError, OverflowError):
            return None  # not UTF-8, a timestamp that is no number, a signature that is no hex
        return body if valid else None

    async def _authorize(self, enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        identity = await self._bot_identity()
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id or identity.team_id,
                               bot_user_id=identity.user_id, bot_id=identity.bot_id,
                               bot_token=self._config.bot_token)

    async def _bot_identity(self) -> BotIdentity:
        if self._identity is not None:
            return self._identity
        async with self._identity_lock:
            if self._identity is None:
                try:
                    found = await self._client.auth_test()
                except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    raise SlackUnavailable(f"auth.test failed: {_describe(exc)}") from exc
                self._identity = BotIdentity(user_id=str(found["user_id"]),
                                             bot_id=found.get("bot_id"),
                                             team_id=found.get("team_id"))
                log.info("slack: connected as bot user %s (team %s)", self._identity.user_id,
                         self._identity.team_id)
            return self._identity

    async def _warm_up(self) -> None:
        try:
            await self._bot_identity()
        except SlackUnavailable as exc:
            log.warning("slack: %s; will retry on the first event", exc)

    # --- inbound events ----------------------------------------------------------------------
    async def _on_app_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        await self._take_in(body, event, mentioned=True)

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        await self._take_in(body, event, mentioned=False)

    async def _on_other_event(self, body: dict[str, Any]) -> None:
        log.debug("slack event %s ignored", body.get("event", {}).get("type"))

    async def _take_in(self, body: dict[str, Any], event: dict[str, Any], *,
                      mentioned: bool) -> None:
        if not await self._is_customer_text(event):
            return
        address = await self._address_for(body, event, mentioned=mentioned)
        if address is None:
            return
        await self._intake.accept(InboundMessage(
            channel=self.name,
            conversation_id=address.conversation_id,
            customer_id=str(event["user"]),
            text=unescape(str(event.get("text") or "")),
            platform_message_id=f"{address.team}:{address.channel}:{event['ts']}",
            attachments=_attachments(event),
            metadata={"event_id": body.get("event_id")},
        ))

    async def _is_customer_text(self, event: dict[str, Any]) -> bool:
        if event.get("subtype") not in HUMAN_SUBTYPES or event.get("hidden"):
            return False
        if event.get("bot_id") or not event.get("user") or not event.get("ts"):
            return False  # other bots' posts too: answering them risks bot-to-bot loops
        return event["user"] != (await self._bot_identity()).user_id

    async def _address_for(self, body: dict[str, Any], event: dict[str, Any], *,
                           mentioned: bool) -> SlackAddress | None:
        team = str(body.get("team_id") or event.get("team") or "-")
        channel = str(event.get("channel") or "")
        if not channel:
            return None
        if event.get("channel_type") == "im" or channel.startswith("D"):
            return SlackAddress(team, channel, None)
        address = SlackAddress(team, channel, str(event.get("thread_ts") or event["ts"]))
        if mentioned or channel in self._config.channels or await self._mentions_bot(event):
            return address
        if event.get("thread_ts") and await self._intake.known(address.conversation_id):
            return address  # a follow-up in a thread the bot is already part of
        return None

    async def _mentions_bot(self, event: dict[str, Any]) -> bool:
        # Covers workspaces that subscribe to channel messages but not to app_mention.
        return f"<@{(await self._bot_identity()).user_id}>" in str(event.get("text") or "")

    # --- button presses ----------------------------------------------------------------------
    async def _on_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        inbound = _button_inbound(self.name, body, action)
        if inbound is None:
            log.warning("slack button press on a message we cannot place ignored")
            await ack()
            return
        accepted = await self._intake.accept(inbound)
        await ack()
        message = body.get("message")
        if accepted and isinstance(message, dict):
            address = SlackAddress.parse(inbound.conversation_id)
            if address is not None:
                self._spawn(self._show_choice(address, message, inbound.text))

    async def _show_choice(self, address: SlackAddress, message: dict[str, Any],
                           title: str) -> None:
        """Replace the buttons with the choice made, so the message cannot be answered twice."""
        blocks = [b for b in message.get("blocks", []) if b.get("type") != "actions"]
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"You chose *{escape(title)}*"}]})
        try:
            await send_with_retry(
                lambda: self.call(self._client.chat_update(
                    channel=address.channel, ts=str(message.get("ts")),
                    text=str(message.get("text") or title), blocks=blocks)),
                what=f"slack chat.update in {address.conversation_id}", attempts=2,
                policy=self.retry)
        except DeliveryFailed:
            pass  # cosmetic only; send_with_retry has logged why

    # --- delivery ----------------------------------------------------------------------------
    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        address = SlackAddress.parse(conversation_id)
        if address is None:
            raise DeliveryFailed(f"not a slack conversation id: {conversation_id!r}")
        for message in messages:
            for post in render(message, conversation_id):
                await send_with_retry(
                    lambda post=post: self.call(self._client.chat_postMessage(
                        channel=address.channel, thread_ts=address.thread_ts, **post)),
                    what=f"slack chat.postMessage to {conversation_id}",
                    policy=self.retry)

    async def call(self, request: Awaitable[Any]) -> Any:
        """Await one Web API call, sorting its failures into retryable and permanent ones (for
        send_with_retry)."""
        try:
            return await request
        except SlackApiError as exc:
            raise _classify(exc) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RetryableSendError(f"network: {_describe(exc)}") from exc

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


# --- translation helpers ------------------------------------------------------------------------
def render(message: OutboundMessage, conversation_id: str) -> list[dict[str, Any]]:
    """chat.postMessage arguments for one reply: a section per 3,000 characters of text, each its
    own Slack message; buttons (and an image) go with the last one."""
    text = escape(shown_text(message))
    posts: list[dict[str, Any]] = [
        {"text": chunk, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}}]}
        for chunk in (split_text(text, SECTION_LIMIT) if text.strip() else [])
    ]
    extra: list[dict[str, Any]] = []
    if message.image_url:
        extra.append({"type": "image", "image_url": message.image_url, "alt_text": "image"})
    if message.buttons:
        extra.append(_actions_block(message.buttons, conversation_id))
    if extra:
        if not posts:
            fallback = " / ".join(_label(b) for b in message.buttons) or "image"
            posts.append({"text": escape(fallback), "blocks": []})
        posts[-1]["blocks"].extend(extra)
    return posts


def _actions_block(buttons: Sequence[Button], conversation_id: str) -> dict[str, Any]:
    if len(buttons) > MAX_BUTTONS:
        log.warning("slack shows at most %d buttons; %d dropped in %s", MAX_BUTTONS,
                    len(buttons) - MAX_BUTTONS, conversation_id)
    elements = []
    for i, button in enumerate(buttons[:MAX_BUTTONS]):
        if len(button.payload) > BUTTON_VALUE_LIMIT:
            log.warning("slack button payload over %d chars cut in %s", BUTTON_VALUE_LIMIT,
                        conversation_id)
        elements.append({
            "type": "button",
            "action_id": f"choice-{i}",
            "text": {"type": "plain_text", "emoji": True,
                     "text": clip(_label(button), BUTTON_TEXT_LIMIT)},
            "value": button.payload[:BUTTON_VALUE_LIMIT],
        })
    # The block id carries the conversation, so a press is placed without any stored state.
    return {"type": "actions", "block_id": conversation_id, "elements": elements}


def _label(button: Button) -> str:
    """What a button shows: its title, or its payload when Rasa gave none (Slack refuses a
    button without text, and with it the whole message)."""
    return button.title.strip() or button.payload


def _button_inbound(channel_name: str, body: dict[str, Any],
                    action: dict[str, Any]) -> InboundMessage | None:
    address = SlackAddress.parse(str(action.get("block_id") or ""))
    channel_id = _id_of(body.get("channel")) or (body.get("container") or {}).get("channel_id")
    user = _id_of(body.get("user"))
    message_ts = (body.get("container") or {}).get("message_ts") or (
        body.get("message") or {}).get("ts")
    if address is None or address.channel != channel_id or not user or not message_ts:
        return None
    title = str((action.get("text") or {}).get("text") or "")
    return InboundMessage(
        channel=channel_name,
        conversation_id=address.conversation_id,
        customer_id=str(user),
        text=title,
        # One choice per person per button message: a double click is answered once.
        platform_message_id=f"{address.team}:{address.channel}:{message_ts}:choice:{user}",
        button_payload=str(action.get("value") or ""),
    )


AttachmentKind = Literal["image", "audio", "video", "file"]
_KINDS: dict[str, AttachmentKind] = {"image": "image", "audio": "audio", "video": "video"}


def _unparsable(body: str, content_type: str) -> str | None:
    """Why bolt could not handle this (signed) body safely, or None. Bolt's own parsing raises on
    broken JSON and recurses on deep nesting, and its middleware indexes into the payload without
    looking at its shape; all of that must be a 400, not a 500 that Slack retries."""
    if content_type not in ("application/json", FORM_TYPE):
        return f"unexpected content type {content_type[:60]!r}"
    try:
        payload = _bolt_payload(body, content_type)
    except (BadJson, ValueError) as exc:
        return str(exc)[:200]
    if not isinstance(payload, dict):
        return "the payload is not a JSON object"
    error = next(iter(PAYLOAD_SHAPE.iter_errors(payload)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"unexpected payload shape at {where[:80]}: {error.validator}"
    return None


def _bolt_payload(body: str, content_type: str) -> Any:
    """What bolt's parse_body makes of a body (same branches), parsed with our strict JSON."""
    if not body:
        return {}
    if content_type == "application/json" or body.startswith("{"):
        return loads(body)
    # A form: interactivity sends its JSON in the payload field (bolt takes the last one);
    # slash commands and the like are flat fields.
    fields = dict(parse_qsl(body, keep_blank_values=True, max_num_fields=100))
    if "payload" not in body:
        return fields
    payload = fields.get("payload")
    return {} if payload is None else loads(payload)


# The parts of a Slack payload that bolt's request parsing and our listeners read, with the JSON
# types Slack sends there: bolt walks into "event", "message", "authorizations"... at any level
# to find the team, user and channel, and calls .get() on what it finds.
_ID_OR_OBJECT = {"type": ["string", "object", "null"]}
_TEXT = {"type": ["string", "null"]}
_OBJECTS = {"type": "array", "items": {"type": "object"}}
PAYLOAD_SHAPE = Draft7Validator({
    "allOf": [{"$ref": "#/definitions/payload"}, {
        # A button press names who pressed and where as objects (listeners read their ids).
        "if": {"required": ["type"], "properties": {"type": {"const": "block_actions"}}},
        "then": {"required": ["user", "actions"],
                 "properties": {"user": {"type": "object"}, "channel": {"type": "object"}}},
    }],
    "definitions": {
        "payload": {
            "type": "object",
            "properties": {
                "type": _TEXT,
                "enterprise": _ID_OR_OBJECT, "team": _ID_OR_OBJECT, "user": _ID_OR_OBJECT,
                "channel": _ID_OR_OBJECT,
                "authorizations": {"type": "array", "items": {"$ref": "#/definitions/payload"}},
                "event": {"$ref": "#/definitions/event"},
                "message": {"$ref": "#/definitions/message"},
                "previous_message": {"$ref": "#/definitions/payload"},
                "item": {"$ref": "#/definitions/payload"},
                "assistant_thread": {"$ref": "#/definitions/payload"},
                "view": {"type": "object"},
                "container": {"type": "object"},
                "response_urls": _OBJECTS,
                "actions": {"type": "array", "minItems": 1,
                            "items": {"$ref": "#/definitions/action"}},
            },
        },
        "event": {"allOf": [{"$ref": "#/definitions/payload"}, {
            "required": ["type"],
            "properties": {"type": {"type": "string"}, "subtype": _TEXT, "text": _TEXT,
                           "ts": _TEXT, "thread_ts": _TEXT, "channel_type": _TEXT,
                           "files": _OBJECTS},
        }]},
        "message": {"allOf": [{"$ref": "#/definitions/payload"}, {
            "properties": {"text": _TEXT, "ts": _TEXT, "blocks": _OBJECTS},
        }]},
        "action": {
            "type": "object",
            "required": ["action_id"],
            "properties": {"action_id": {"type": "string"}, "block_id": _TEXT, "value": _TEXT,
                           "text": {"type": ["object", "null"]}},
        },
    },
})


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel an event callback or an interaction payload happened in."""
    event = body.get("event")
    if isinstance(event, dict):
        return _id_of(event.get("channel"))  # channel_created, channel_rename... carry an object
    container = body.get("container")
    return _id_of(body.get("channel")) or (
        _id_of(container.get("channel_id")) if isinstance(container, dict) else None)


def _id_of(value: Any) -> str | None:
    """An id Slack sends either bare or as an object with an "id" (bolt accepts both)."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def _attachments(event: dict[str, Any]) -> tuple[Attachment, ...]:
    found = []
    for file in event.get("files") or ():
        mime = str(file.get("mimetype") or "") or None
        kind = _KINDS.get((mime or "").split("/", 1)[0], "file")
        url = file.get("permalink") or file.get("url_private")
        found.append(Attachment(kind=kind, url=str(url) if url else None, mime_type=mime))
    return tuple(found)


def _classify(exc: SlackApiError) -> RetryableSendError | PermanentSendError:
    response = exc.response
    # Usually a SlackResponse (status_code); an unreadable body leaves the raw aiohttp one (status).
    status = int(getattr(response, "status_code", None) or getattr(response, "status", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error")) if isinstance(data, dict) and data.get("error") else ""
    reason = f"HTTP {status} {error}".strip()
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", None) or {}
        return RetryableSendError(reason, retry_after_s=_seconds(headers.get("Retry-After")))
    if status >= 500 or error in TRANSIENT_ERRORS:
        return RetryableSendError(reason)
    return PermanentSendError(reason)


def _seconds(raw: Any) -> float | None:
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


__all__ = ["SlackChannel", "SlackConfig", "SlackAddress", "build", "render", "channel_of",
           "REQUIRED_ENV"]
