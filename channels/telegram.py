"""The Telegram channel: Bot API updates in (webhook, or long polling for development), replies out
through the same Bot API, with python-telegram-bot as the client.

Addressing: one conversation per chat, `telegram:<chat_id>` (a DM, or a whole group), so `deliver`
needs nothing but the conversation id and works on any gateway instance after a restart.

Intake: the webhook checks Telegram's secret-token header in constant time, parses the update and
hands it to the intake before answering 200; it never waits for Rasa. Telegram redelivers an update
until it gets a 200, and a poller re-reads unconfirmed updates after a crash, so every update is
de-duplicated by its update_id, and every customer message is also keyed by chat_id:message_id
(its platform_message_id), which the intake de-duplicates across instances when Redis is used.

Groups: the bot answers only messages that mention it, reply to one of its messages, or are
commands; everything else in a group is other people talking.

Buttons are inline keyboards whose callback_data is the Rasa payload. Telegram caps callback_data at
64 bytes, so a longer payload is sent as a short id and the id -> payload map is kept in the
conversation's state. /start and /help are answered here, without Rasa: they are Telegram's own
conventions, and a welcome must work even when NLU would not recognise "start".

`python -m channels.telegram set-webhook` registers the webhook URL and secret with Telegram.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import hmac
import logging
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Awaitable, Callable, Coroutine, Literal, Mapping, Sequence, TypeVar

from aiohttp import web
from jsonschema import Draft7Validator
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.channel_port import (REFUSED, Attachment, Button, ChannelFacts, CustomerIdKind,
                              DeliveryFailed, InboundMessage, Intake, OutboundMessage,
                              SettingsError)
from bot.http_bodies import read_bytes
from bot.redaction import mask_id
from bot.safe_json import BadJson, loads
from channels.outbound import (PermanentSendError, RetryableSendError, RetryPolicy,
                               send_with_retry,
                               shown_text, split_text)

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_API_URL = "https://api.telegram.org"
TEXT_LIMIT = 4096  # characters per sendMessage
_BOT_MENTION = re.compile(r"(?<!\w)@[A-Za-z][A-Za-z0-9_]{3,31}bot\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """A bot's @mention (ours, or another bot's in a group) is not the customer's words."""
    return _BOT_MENTION.sub(" ", text)


FACTS = ChannelFacts(name=CHANNEL, label="Telegram", customer_noun="Telegram user",
                     customer_id=CustomerIdKind.PLATFORM_USER,
                     icon="M21 4 3 11l6 2.2M21 4l-3 16-6.5-5M21 4 9 13.2v5.3l2.5-3.5",
                     max_text_chars=TEXT_LIMIT,
                     normalise=normalise)
CALLBACK_DATA_LIMIT = 64  # bytes of callback_data per inline button
ALLOWED_UPDATES = ("message", "callback_query")
CALLBACK_MAP_KEY = "callbacks"  # in the conversation's channel data
MAX_UPDATE_BYTES = 1024 * 1024
CALLBACK_MAP_LIMIT = 200
SHORT_ID_PREFIX = "~"
POLL_TIMEOUT_S = 25.0
# PTB's default is one connection with a 1 s pool timeout: replies to concurrent conversations
# queued on it and timed out waiting. httpcore also rescans its whole queue of waiting requests
# for every request it starts and ends (a burst of replies cost more CPU than everything else the
# gateway does), so the channel lets no more sends start than there are connections.
# Telegram allows ~30 messages/s per bot anyway.
SEND_CONNECTIONS = 16
SEND_POOL_TIMEOUT_S = 10.0
POLL_MAX_BACKOFF_S = 30.0

_TOKEN = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what setWebhook accepts as secret_token
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?=\s|$)")

# The menu mirrors the Rasa greeting's buttons; the payloads are intents of domain.yml.
MENU = (
    Button("Track my order", "/order_status"),
    Button("Reset my password", "/password_reset"),
    Button("Talk to a person", "/human_handoff"),
)
WELCOME_TEXT = (
    "Hi! I'm an automated assistant. I can track an order, reset your password or answer "
    "questions about shipping, returns and payments. Type \"agent\" at any time to reach a person."
)
HELP_TEXT = (
    "I'm an automated assistant. Here's what I can do:\n"
    "• Track an order: send your 6-digit order number\n"
    "• Reset your password\n"
    "• Answer questions about shipping, returns, refunds, payments and your account\n\n"
    "Type \"agent\" (or /agent) at any time to reach a person. I can only read text, not photos "
    "or voice messages."
)
CHOOSE_PROMPT = "Please choose an option:"
COMMANDS = (
    BotCommand("start", "Start a conversation"),
    BotCommand("help", "What I can do"),
    BotCommand("agent", "Talk to a person"),
)


@dataclass(frozen=True)
class TelegramConfig:
    token: str = field(repr=False)
    webhook_secret: str | None = field(repr=False)
    api_url: str = DEFAULT_API_URL
    mode: Literal["webhook", "polling"] = "webhook"
    username: str | None = None
    public_base_url: str | None = None

    @property
    def bot_id(self) -> int:
        # The token is "<bot user id>:<secret>", so the bot recognises replies to itself without
        # a getMe round trip.
        return int(self.token.split(":", 1)[0])

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramConfig:
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not _TOKEN.match(token):
            raise SettingsError("TELEGRAM_BOT_TOKEN must look like <bot id>:<secret> (from BotFather)")
        mode = (env.get("TELEGRAM_MODE") or "webhook").strip().lower()
        if mode not in ("webhook", "polling"):
            raise SettingsError(f"TELEGRAM_MODE must be webhook or polling, got {mode!r}")
        secret = env.get("TELEGRAM_WEBHOOK_SECRET") or None
        if mode == "webhook" and secret is None:
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET is required in webhook mode "
                                "(or set TELEGRAM_MODE=polling for development)")
        if secret is not None and not _SECRET.match(secret):
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - "
                                "(1-256 characters)")
        username = (env.get("TELEGRAM_BOT_USERNAME") or "").strip().lstrip("@") or None
        return cls(
            token=token,
            webhook_secret=secret,
            api_url=(env.get("TELEGRAM_API_URL") or DEFAULT_API_URL).rstrip("/"),
            mode="polling" if mode == "polling" else "webhook",
            username=username,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        )


def build(intake: Intake, env: Mapping[str, str]) -> TelegramChannel:
    """The registry's builder."""
    return TelegramChannel(intake, TelegramConfig.from_env(env), retry=RetryPolicy.from_env(env))


def make_bot(config: TelegramConfig) -> Bot:
    _keep_token_out_of_logs()
    return Bot(config.token, base_url=f"{config.api_url}/bot",
               base_file_url=f"{config.api_url}/file/bot",
               request=HTTPXRequest(connection_pool_size=SEND_CONNECTIONS,
                                    pool_timeout=SEND_POOL_TIMEOUT_S))


def _keep_token_out_of_logs() -> None:
    # Bot API URLs carry the token; httpx logs every request URL at INFO and PTB logs its base
    # URL at DEBUG.
    for name, level in (("httpx", logging.WARNING), ("telegram", logging.INFO)):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)


class TelegramChannel:
    name = CHANNEL
    facts = FACTS

    def __init__(self, intake: Intake, config: TelegramConfig, *,
                 poll_timeout_s: float = POLL_TIMEOUT_S,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self._intake = intake
        self._retry = retry
        self._config = config
        self._bot = make_bot(config)
        self._username = config.username
        self._poll_timeout_s = poll_timeout_s
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending = asyncio.Semaphore(SEND_CONNECTIONS)

    def mount(self, app: web.Application) -> None:
        if self._config.mode == "webhook":
            app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self) -> None:
        try:
            await self._bot.initialize()  # opens the HTTP client and calls getMe
        except InvalidToken:
            # PTB's message for this error contains the token, so it is not logged.
            log.error("telegram: the Bot API rejected TELEGRAM_BOT_TOKEN; sends will fail")
        except TelegramError as exc:
            log.warning("telegram: getMe failed (%s); will retry when a group message needs it", exc)
        else:
            self._username = self._username or self._bot.username
        if self._config.mode == "polling":
            self._poller = asyncio.create_task(self._poll_forever(), name="telegram polling")
        log.info("telegram: %s mode, bot @%s", self._config.mode, self._username or "?")

    async def close(self) -> None:
        tasks = [t for t in (self._poller, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._bot.shutdown()

    # --- intake: webhook ------------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            log.warning("telegram webhook without secret token header refused")
            raise web.HTTPUnauthorized(text="secret token missing")
        expected = self._config.webhook_secret or ""
        # aiohttp decodes header bytes that are not UTF-8 as surrogates: encode them back as-is.
        if not hmac.compare_digest(given.encode(errors="surrogateescape"), expected.encode()):
            log.warning("telegram webhook with a wrong secret token refused")
            raise web.HTTPForbidden(text="secret token mismatch")
        raw = await read_bytes(request, max_bytes=MAX_UPDATE_BYTES)
        update = self._parse_update(raw)
        if update is None:
            raise web.HTTPBadRequest(text="not a Telegram update")
        try:
            await self._handle(update)
        except REFUSED as exc:
            # Not acknowledged: Telegram delivers the update again.
            log.warning("telegram update %s not accepted: %s", update.update_id, exc)
            raise web.HTTPServiceUnavailable(text="try again") from None
        return web.json_response({"ok": True})

    def _parse_update(self, raw: bytes) -> Update | None:
        """The update, or None when the body is not one we can handle. PTB's de_json trusts its
        input (a message without a chat parses, then fails deep in our handler), so the fields
        this channel reads are checked first; the rest is PTB's, which raises on bad values."""
        try:
            data = loads(raw)
            problem = _update_problem(data)
            if problem is None:
                return Update.de_json(data, self._bot)
        except (BadJson, ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
            problem = type(exc).__name__  # OverflowError: a timestamp beyond year 9999
        # Sent with our secret, so Telegram's (or a test's): worth a line, not a traceback.
        log.warning("telegram webhook body unreadable: %s", problem)
        return None

    # --- intake: long polling -------------------------------------------------------------
    async def _poll_forever(self) -> None:
        offset: int | None = None
        backoff = 1.0
        webhook_removed = False
        while True:
            try:
                if not webhook_removed:
                    # getUpdates is refused while a webhook is registered.
                    await self._bot.delete_webhook(drop_pending_updates=False)
                    webhook_removed = True
                updates = await self._bot.get_updates(
                    offset=offset, timeout=int(self._poll_timeout_s),
                    allowed_updates=list(ALLOWED_UPDATES))
            except InvalidToken:
                log.error("telegram: the Bot API rejected TELEGRAM_BOT_TOKEN; polling stopped")
                return
            except RetryAfter as exc:
                await asyncio.sleep(_retry_after_s(exc))
                continue
            except (Conflict, NetworkError) as exc:
                log.warning("telegram: getUpdates failed (%s); retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, POLL_MAX_BACKOFF_S)
                continue
            backoff = 1.0
            offset = await self._handle_batch(updates, offset)

    async def _handle_batch(self, updates: Sequence[Update], offset: int | None) -> int | None:
        """Handle polled updates in order; returns the offset that confirms the handled ones."""
        for update in updates:
            try:
                await self._handle(update)
            except Exception:
                # Like a webhook answering 500: the update stays unconfirmed and is fetched again
                # (already handled ones are de-duplicated), instead of being lost or ending polling.
                log.exception("telegram: update %s could not be handled; will retry",
                              update.update_id)
                await asyncio.sleep(1.0)
                return offset
            offset = update.update_id + 1
        return offset

    # --- intake: shared path --------------------------------------------------------------
    async def _handle(self, update: Update) -> None:
        # Redeliveries are refused where it matters: a customer message or button press by its
        # journal entry (chat:message id, callback query id), a command by its own mark.
        if update.callback_query is not None:
            await self._on_callback(update.callback_query)
        elif update.message is not None:
            await self._on_message(update.message, update.update_id)
        else:
            log.debug("telegram update %s of an unhandled kind ignored", update.update_id)

    async def _on_message(self, message: Message, update_id: int) -> None:
        chat = message.chat
        if chat.type == ChatType.CHANNEL:
            return
        written = message.text or message.caption or ""
        text = written
        command = _COMMAND.match(text)
        in_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        # Only deciding whether a message is for us needs the name; DMs always are.
        targeted = bool(command and command.group(2))
        username = await self._bot_username() if in_group or targeted else self._username
        if command and targeted and not _same_name(command.group(2), username):
            return  # "/help@other_bot"
        if in_group and not command and not self._addressed_to_me(message, username):
            return
        if command:
            text = f"/{command.group(1)}{text[command.end():]}"  # drop "@ourbot"
        text = _strip_mention(text, username)

        conversation_id = f"{CHANNEL}:{chat.id}"
        # An anonymous group admin has no user; the group stands in for them.
        customer_id = str(message.from_user.id if message.from_user else chat.id)
        name = command.group(1).lower() if command else None
        if name in ("start", "help"):
            if await self._intake.first_seen(f"command:{chat.id}:{message.message_id}"):
                self._spawn(self._answer_command(conversation_id, customer_id, name),
                            what=f"/{name} in {mask_id(conversation_id)}")
            return
        attachments = _attachments(message)
        if not written and not attachments:
            return  # service messages: someone joined, a pin, a title change
        await self._intake.accept(InboundMessage(
            channel=CHANNEL,
            conversation_id=conversation_id,
            customer_id=customer_id,
            text=text,
            platform_message_id=f"{chat.id}:{message.message_id}",
            attachments=attachments,
            received_at=time.time(),
            metadata={"update_id": update_id, "chat_type": str(chat.type)},
        ))

    async def _on_callback(self, query: CallbackQuery) -> None:
        source = query.message
        if source is None or query.data is None:
            self._spawn(self._answer_callback(query.id), what=f"answerCallbackQuery {query.id}")
            return  # inline-mode or game buttons: not ours
        conversation_id = f"{CHANNEL}:{source.chat.id}"
        payload = await self._resolve_callback(conversation_id, query.data)
        title = _button_title(source, query.data)
        accepted = await self._intake.accept(InboundMessage(
            channel=CHANNEL,
            conversation_id=conversation_id,
            customer_id=str(query.from_user.id),
            text=title,
            platform_message_id=query.id,
            button_payload=payload,
            received_at=time.time(),
            metadata={"chat_type": str(source.chat.type)},
        ))
        if accepted:  # a redelivery was answered the first time
            # At once: the customer's client shows a spinner on the button until we do.
            self._spawn(self._answer_callback(query.id), what=f"answerCallbackQuery {query.id}")

    def _addressed_to_me(self, message: Message, username: str | None) -> bool:
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None \
                and replied.from_user.id == self._config.bot_id:
            return True
        entity_types: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        entities = (message.parse_entities(entity_types) if message.text
                    else message.parse_caption_entities(entity_types))
        for entity, text in entities.items():
            if entity.type == MessageEntity.MENTION and _same_name(text.lstrip("@"), username):
                return True
            if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None \
                    and entity.user.id == self._config.bot_id:
                return True
        return False

    async def _bot_username(self) -> str | None:
        if self._username is None:
            try:
                self._username = (await self._bot.get_me()).username
            except TelegramError as exc:
                log.warning("telegram: getMe failed (%s); mentions cannot be recognised yet", exc)
        return self._username

    async def _answer_command(self, conversation_id: str, customer_id: str, name: str) -> None:
        await self._intake.open_conversation(conversation_id, customer_id=customer_id)
        text = WELCOME_TEXT if name == "start" else HELP_TEXT
        # Like a reply: in the transcript, and its buttons count as offered.
        await self._intake.say(conversation_id, [OutboundMessage(text=text, buttons=MENU)])

    async def _answer_callback(self, query_id: str) -> None:
        try:
            await self._bot.answer_callback_query(query_id)
        except TelegramError as exc:
            # Not retried: the spinner times out on its own after a few seconds anyway.
            log.warning("telegram: answerCallbackQuery %s failed: %s", query_id, exc)

    async def _resolve_callback(self, conversation_id: str, data: str) -> str:
        if data.startswith(SHORT_ID_PREFIX):
            state = await self._intake.view(conversation_id, acknowledging=True)
            mapped = (state.channel_data.get(CALLBACK_MAP_KEY) or {}).get(data)
            if mapped is not None:
                return str(mapped)
        return data

    def _spawn(self, coro: Coroutine[Any, Any, None], *, what: str) -> None:
        task = asyncio.create_task(coro, name=f"telegram {what}")
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._finished, what=what))

    def _finished(self, task: asyncio.Task[None], *, what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("telegram: %s failed", what, exc_info=task.exception())

    # --- delivery -------------------------------------------------------------------------
    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        chat_id = _chat_id(conversation_id)
        for message in messages:
            await self._deliver_one(conversation_id, chat_id, message)

    async def _deliver_one(self, conversation_id: str, chat_id: int,
                           message: OutboundMessage) -> None:
        if message.image_url:
            await self._send(f"telegram sendPhoto to {conversation_id}", functools.partial(
                self._bot.send_photo, chat_id=chat_id, photo=message.image_url))
        markup = await self._keyboard(conversation_id, message.buttons) if message.buttons else None
        text = shown_text(message)
        chunks = split_text(text, TEXT_LIMIT) if text.strip() else []
        if markup is not None and not chunks:
            chunks = [CHOOSE_PROMPT]  # Telegram needs text to hang a keyboard on
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            await self._send(f"telegram sendMessage to {conversation_id}", functools.partial(
                self._bot.send_message, chat_id=chat_id, text=chunk,
                reply_markup=markup if last else None))

    async def _keyboard(self, conversation_id: str,
                        buttons: Sequence[Button]) -> InlineKeyboardMarkup:
        rows: list[list[InlineKeyboardButton]] = []
        long_payloads: dict[str, str] = {}
        for button in buttons:
            data = button.payload
            if len(data.encode()) > CALLBACK_DATA_LIMIT:
                data = _short_id(button.payload)
                long_payloads[data] = button.payload
            # One button per row: titles are sentences, and side by side they get truncated.
            rows.append([InlineKeyboardButton(button.title or button.payload, callback_data=data)])
        if long_payloads:
            await self._remember_callbacks(conversation_id, long_payloads)
        return InlineKeyboardMarkup(rows)

    async def _remember_callbacks(self, conversation_id: str, new: dict[str, str]) -> None:
        state = await self._intake.view(conversation_id)
        known = dict(state.channel_data.get(CALLBACK_MAP_KEY) or {})
        for key, payload in new.items():
            known.pop(key, None)
            known[key] = payload  # newest last, so trimming drops the oldest
        trimmed = dict(list(known.items())[-CALLBACK_MAP_LIMIT:])
        await self._intake.keep_channel_data(conversation_id, {CALLBACK_MAP_KEY: trimmed})

    async def _send(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        async def attempt() -> T:
            try:
                async with self._sending:  # a burst waits here, not in httpcore's pool queue
                    return await call()
            except TelegramError as exc:
                raise _send_error(exc) from exc
        return await send_with_retry(attempt, what=what, policy=self._retry)


# --- helpers ------------------------------------------------------------------------------
def _update_problem(data: object) -> str | None:
    """Why a webhook body is not an update this channel can read (see UPDATE_SHAPE), or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    error = next(iter(UPDATE_SHAPE.iter_errors(data)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"unexpected shape at {where[:80]}: {error.validator}"


# The parts of an Update this channel reads, with the types the Bot API documents for them
# (https://core.telegram.org/bots/api#update). Other fields are left to PTB.
_INT = {"type": "integer"}
_STR = {"type": "string"}
_UNIX_TIME = {"type": "integer", "minimum": 0, "maximum": 2**32}  # 0: an inaccessible message
_MEDIA = {"type": "object", "properties": {"mime_type": _STR}}
UPDATE_SHAPE = Draft7Validator({
    "type": "object",
    "required": ["update_id"],
    "properties": {"update_id": _INT, "message": {"$ref": "#/definitions/message"},
                   "callback_query": {"$ref": "#/definitions/callback_query"}},
    "definitions": {
        "user": {"type": "object", "required": ["id", "is_bot", "first_name"],
                 "properties": {"id": _INT, "is_bot": {"type": "boolean"}, "first_name": _STR,
                                "username": _STR}},
        "chat": {"type": "object", "required": ["id", "type"],
                 "properties": {"id": _INT, "type": _STR}},
        "entities": {"type": "array", "items": {
            "type": "object", "required": ["type", "offset", "length"],
            "properties": {"type": _STR, "offset": _INT, "length": _INT,
                           "user": {"$ref": "#/definitions/user"}}}},
        "keyboard": {"type": "object", "properties": {"inline_keyboard": {
            "type": "array", "items": {"type": "array", "items": {
                "type": "object", "required": ["text"],
                "properties": {"text": _STR, "callback_data": _STR}}}}}},
        "message": {
            "type": "object",
            "required": ["message_id", "date", "chat"],
            "properties": {
                "message_id": _INT, "date": _UNIX_TIME, "chat": {"$ref": "#/definitions/chat"},
                "from": {"$ref": "#/definitions/user"}, "text": _STR, "caption": _STR,
                "entities": {"$ref": "#/definitions/entities"},
                "caption_entities": {"$ref": "#/definitions/entities"},
                "reply_to_message": {"$ref": "#/definitions/message"},
                "reply_markup": {"$ref": "#/definitions/keyboard"},
                "photo": {"type": "array", "items": {"type": "object"}},
                "voice": _MEDIA, "audio": _MEDIA, "animation": _MEDIA, "video": _MEDIA,
                "document": _MEDIA,
            },
        },
        "callback_query": {
            "type": "object",
            "required": ["id", "from"],
            "properties": {"id": _STR, "from": {"$ref": "#/definitions/user"}, "data": _STR,
                           "message": {"$ref": "#/definitions/message"}},
        },
    },
})


def _chat_id(conversation_id: str) -> int:
    prefix, _, raw = conversation_id.partition(":")
    try:
        if prefix != CHANNEL:
            raise ValueError(prefix)
        return int(raw)
    except ValueError as exc:
        raise DeliveryFailed(f"not a telegram conversation id: {conversation_id!r}") from exc


def _same_name(name: str, username: str | None) -> bool:
    return username is not None and name.lower() == username.lower()


def _strip_mention(text: str, username: str | None) -> str:
    if username:
        text = re.sub(rf"(?<!\w)@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]+", " ", text).strip()


def _attachments(message: Message) -> tuple[Attachment, ...]:
    # No URLs: a Telegram file URL embeds the bot token, and the engine only needs the kind.
    if message.photo:
        return (Attachment("image", mime_type="image/jpeg"),)
    if message.sticker:
        return (Attachment("sticker"),)
    if message.voice:
        return (Attachment("audio", mime_type=message.voice.mime_type),)
    if message.audio:
        return (Attachment("audio", mime_type=message.audio.mime_type),)
    if message.animation:  # checked before document: a GIF carries both
        return (Attachment("video", mime_type=message.animation.mime_type),)
    if message.video:
        return (Attachment("video", mime_type=message.video.mime_type),)
    if message.video_note:
        return (Attachment("video"),)
    if message.document:
        return (Attachment("file", mime_type=message.document.mime_type),)
    if message.contact or message.location or message.venue or message.poll or message.dice \
            or message.story:
        return (Attachment("other"),)
    return ()


def _button_title(source: object, data: str) -> str:
    """The title of the pressed button, read back from the keyboard it was pressed on."""
    markup = source.reply_markup if isinstance(source, Message) else None
    if markup is not None:
        for row in markup.inline_keyboard:
            for button in row:
                if button.callback_data == data:
                    return button.text
    return ""


def _short_id(payload: str) -> str:
    return SHORT_ID_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:24]


def _retry_after_s(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that the int form of retry_after is deprecated
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _send_error(exc: TelegramError) -> Exception:
    if isinstance(exc, RetryAfter):
        return RetryableSendError(f"rate limited: {exc.message}", retry_after_s=_retry_after_s(exc))
    if isinstance(exc, ChatMigrated):
        # The group became a supergroup: its next message starts a new conversation there.
        return PermanentSendError(f"chat moved to {exc.new_chat_id}")
    reason = exc.message
    if isinstance(exc, (BadRequest, Forbidden, InvalidToken, Conflict)):
        return PermanentSendError(reason)  # blocked bot, chat not found, bad token
    if isinstance(exc, NetworkError):
        return RetryableSendError(reason)  # 5xx, timeouts (TimedOut), connection errors
    return PermanentSendError(reason)


# --- command line -------------------------------------------------------------------------
async def set_webhook(env: Mapping[str, str]) -> str:
    """Register PUBLIC_BASE_URL + /telegram/webhook with the secret token; returns the URL."""
    config = TelegramConfig.from_env(env)
    if config.mode != "webhook" or config.webhook_secret is None:
        raise SettingsError("set-webhook is for TELEGRAM_MODE=webhook")
    if config.public_base_url is None:
        raise SettingsError("PUBLIC_BASE_URL is required (the gateway's public https address)")
    url = config.public_base_url + WEBHOOK_PATH
    bot = make_bot(config)
    try:
        await bot.initialize()
        await bot.set_webhook(url, secret_token=config.webhook_secret,
                              allowed_updates=list(ALLOWED_UPDATES))
        await bot.set_my_commands(list(COMMANDS))
    except InvalidToken:
        # `from None`: PTB's message for this error contains the token.
        raise SettingsError("the Bot API rejected TELEGRAM_BOT_TOKEN") from None
    finally:
        await bot.shutdown()
    return url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m channels.telegram",
                                     description="Telegram channel administration")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("set-webhook", help="register PUBLIC_BASE_URL/telegram/webhook with "
                                            "TELEGRAM_WEBHOOK_SECRET, and the bot's command menu")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        url = asyncio.run(set_webhook(os.environ))
    except (SettingsError, TelegramError) as exc:
        log.error("set-webhook failed: %s", exc)
        return 1
    log.info("webhook registered: %s", url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
