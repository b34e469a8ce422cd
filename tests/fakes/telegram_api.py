"""A fake Telegram Bot API server for channel tests, plus builders for the updates Telegram sends.

It speaks the real wire format, so python-telegram-bot runs unmodified against it: requests to
POST /bot<token>/<method> (form-encoded, JSON-encoded non-string values, as PTB sends them), answers
{"ok": true, "result": ...}, and failures in the Bot API's error shape
({"ok": false, "error_code": 429, "description": ..., "parameters": {"retry_after": 1}}) so PTB
raises its real exceptions (RetryAfter, Forbidden, BadRequest, NetworkError).

Every call is recorded (`calls`, refused ones marked failed); `fail()` injects errors;
`queue_update()` feeds getUpdates for long polling; `webhook` holds what setWebhook registered.

It refuses what the Bot API refuses, with its status and description:
- a wrong token in the URL: 401 Unauthorized; an unknown method: 404;
- sendMessage: text that is empty once leading and trailing whitespace is trimmed, 400 "Bad
  Request: message text is empty"; over 4096 characters (Unicode code points: the server counts
  with tdlib's utf8_length, so an emoji is one), 400 "Bad Request: message is too long";
- an inline button whose callback_data is over 64 bytes (UTF-8): 400 "Bad Request:
  BUTTON_DATA_INVALID";
- a chat id that is no integer: 400 "Bad Request: chat not found"; a chat in `blocked`: 403
  "Forbidden: bot was blocked by the user"; a chat in `not_started` (a user who never pressed
  Start): 403 "Forbidden: bot can't initiate conversation with a user";
- sendPhoto: a caption over 1024 characters, 400 "Bad Request: message caption is too long";
- answerCallbackQuery: only for a query Telegram delivered (built by an `Updates` bound to this
  API: `Updates(api=fake)`), once, within `callback_answer_window_s`; anything else is 400 "Bad
  Request: query is too old and response timeout expired or query ID is invalid";
- getUpdates while a webhook is set: 409 Conflict.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

TOKEN = "123456789:TEST-fake-token_for-the-bot"
BOT_ID = 123456789
BOT_USERNAME = "northwind_help_bot"

# Parameters PTB sends as raw strings; everything else is JSON-encoded.
_STRING_PARAMS = frozenset({"text", "caption", "url", "secret_token", "callback_query_id",
                            "photo", "action", "parse_mode", "description"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    failed: bool = False


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


TEXT_LIMIT = 4096  # characters (code points) of a message text, after trimming
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
QUERY_INVALID = ("Bad Request: query is too old and response timeout expired or query ID is "
                 "invalid")


@dataclass
class FakeTelegramAPI:
    token: str = TOKEN
    username: str = BOT_USERNAME
    blocked: set[int] = field(default_factory=set)  # chats whose user blocked the bot
    not_started: set[int] = field(default_factory=set)  # users who never started the bot
    # How long after its delivery a callback query may be answered (Telegram: a few seconds).
    callback_answer_window_s: float = 15.0
    # How long an empty getUpdates waits at most, whatever timeout the client asked for, so a
    # stopped poller never leaves the server holding a request for long.
    long_poll_cap_s: float = 0.5
    calls: list[Call] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    commands: list[dict[str, Any]] = field(default_factory=list)
    _failures: dict[str, deque[Failure]] = field(
        default_factory=lambda: defaultdict(deque))
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _queries: dict[str, float] = field(default_factory=dict)  # delivered, not answered yet

    def delivered_query(self, query_id: str) -> None:
        """Telegram delivered this callback query (Updates bound to this API call it)."""
        self._queries[query_id] = time.monotonic()

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        return app

    # --- test controls --------------------------------------------------------------------
    def fail(self, method: str, *, status: int, description: str, retry_after: int | None = None,
             times: int = 1) -> None:
        """The next `times` calls of `method` fail with this Bot API error."""
        self._failures[method].extend([Failure(status, description, retry_after)] * times)

    def queue_update(self, update: dict[str, Any]) -> None:
        """Make an update available to getUpdates (long polling)."""
        self._updates.append(update)
        self._arrived.set()

    def calls_to(self, method: str, *, failed: bool | None = None) -> list[Call]:
        return [c for c in self.calls
                if c.method == method and (failed is None or c.failed is failed)]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages successfully sent with sendMessage, optionally to one chat."""
        return [c.params for c in self.calls_to("sendMessage", failed=False)
                if chat_id is None or c.params.get("chat_id") == chat_id]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        return [p["text"] for p in self.sent(chat_id)]

    # --- the API --------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _params(request)
        failures = self._failures.get(method)
        if failures:
            failure = failures.popleft()
            self.calls.append(Call(method, params, failed=True))
            return _error(failure.status, failure.description, failure.retry_after)
        handler: Callable[[dict[str, Any]], Awaitable[web.Response]] | None = getattr(
            self, f"_m_{method}", None)
        if handler is None:
            self.calls.append(Call(method, params, failed=True))
            return _error(404, "Not Found: method not found")
        call = Call(method, params)
        if method != "getUpdates":
            self.calls.append(call)  # before answering: a long poll is recorded when it returns
        response = await handler(params)
        call.failed = response.status != 200
        return response

    async def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(self._bot_user())

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        text = str(params.get("text") or "").strip()
        refusal = self._chat_refusal(params) or _markup_refusal(params.get("reply_markup"))
        if refusal is None and not text:
            refusal = _error(400, "Bad Request: message text is empty")
        if refusal is None and len(text) > TEXT_LIMIT:
            refusal = _error(400, "Bad Request: message is too long")
        if refusal is not None:
            return refusal
        message = self._message(params["chat_id"], text=params["text"])
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return _ok(message)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        refusal = self._chat_refusal(params) or _markup_refusal(params.get("reply_markup"))
        if refusal is None and len(str(params.get("caption") or "").strip()) > CAPTION_LIMIT:
            refusal = _error(400, "Bad Request: message caption is too long")
        if refusal is not None:
            return refusal
        photo = [{"file_id": "photo-1", "file_unique_id": "u1", "width": 640, "height": 480}]
        return _ok(self._message(params["chat_id"], photo=photo))

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        delivered = self._queries.pop(str(params.get("callback_query_id") or ""), None)
        if delivered is None or time.monotonic() - delivered > self.callback_answer_window_s:
            return _error(400, QUERY_INVALID)
        return _ok(True)

    def _chat_refusal(self, params: dict[str, Any]) -> web.Response | None:
        try:
            chat_id = int(params.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _error(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.not_started:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        return None

    async def _m_sendChatAction(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = params
        return _ok(True)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return _ok(True)

    async def _m_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        self.commands = list(params.get("commands", []))
        return _ok(True)

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active; "
                               "use deleteWebhook to delete the webhook first")
        self.calls.append(Call("getUpdates", params))
        offset = int(params.get("offset") or 0)
        # As on Telegram, asking with an offset confirms (forgets) every earlier update.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._arrived.clear()
            wait = min(float(params.get("timeout") or 0), self.long_poll_cap_s)
            try:
                await asyncio.wait_for(self._arrived.wait(), wait)
            except TimeoutError:
                pass
        limit = int(params.get("limit") or 100)
        return _ok(self._updates[:limit])

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Northwind Help",
                "username": self.username}

    def _message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        chat_type = "private" if int(chat_id) > 0 else "supergroup"
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": int(chat_id), "type": chat_type}, "from": self._bot_user(),
                **content}


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.post() if request.can_read_body else request.query
    params: dict[str, Any] = {}
    for name, value in form.items():
        if not isinstance(value, str) or name in _STRING_PARAMS:
            params[name] = value
            continue
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    return params


def _markup_refusal(markup: Any) -> web.Response | None:
    """The Bot API's refusal of an inline keyboard, or None."""
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    for row in rows or ():
        for button in row:
            data = button.get("callback_data")
            if data is not None and len(str(data).encode()) > CALLBACK_DATA_LIMIT:
                return _error(400, "Bad Request: BUTTON_DATA_INVALID")
    return None


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


# --- what Telegram sends --------------------------------------------------------------------
class Updates:
    """Builds Update payloads as Telegram delivers them, with fresh update and message ids.
    Bound to a FakeTelegramAPI (`api`), it tells the API which callback queries it delivered,
    so answerCallbackQuery accepts them as Telegram would."""

    def __init__(self, *, bot_id: int = BOT_ID, bot_username: str = BOT_USERNAME,
                 api: FakeTelegramAPI | None = None) -> None:
        self._update_ids = itertools.count(500_000)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(9_000_000_000_000)
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.api = api

    def message(self, text: str | None = None, *, chat_id: int = 4242, user_id: int = 4242,
                chat_type: str = "private", reply_to_bot: bool = False,
                **content: Any) -> dict[str, Any]:
        """A message update; @mentions and a leading /command get their entities, as the
        Telegram clients add them."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id, chat_type),
            "from": {"id": user_id, "is_bot": False, "first_name": "Jane", "language_code": "en"},
            **content,
        }
        if text is not None:
            key = "caption" if content else "text"
            message[key] = text
            entities = _entities(text)
            if entities:
                message[f"{key}_entities" if key == "caption" else "entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": 1, "date": int(time.time()), "chat": _chat(chat_id, chat_type),
                "from": {"id": self.bot_id, "is_bot": True, "first_name": "Northwind Help",
                         "username": self.bot_username},
                "text": "What's your order number?"}
        return {"update_id": next(self._update_ids), "message": message}

    def media(self, kind: str, *, caption: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return self.message(caption, **kwargs, **MEDIA[kind])

    def press(self, sent: dict[str, Any], callback_data: str, *,
              user_id: int = 4242) -> dict[str, Any]:
        """A callback query: the customer pressed a button of a message the bot sent (`sent` is
        what the fake API recorded for that sendMessage)."""
        chat_id = int(sent["chat_id"])
        message = {"message_id": 77, "date": int(time.time()),
                   "chat": _chat(chat_id, "private" if chat_id > 0 else "supergroup"),
                   "from": {"id": self.bot_id, "is_bot": True, "first_name": "Northwind Help"},
                   "text": sent["text"], "reply_markup": sent["reply_markup"]}
        query = {"id": str(next(self._callback_ids)), "chat_instance": "ci-1",
                 "from": {"id": user_id, "is_bot": False, "first_name": "Jane"},
                 "message": message, "data": callback_data}
        if self.api is not None:
            self.api.delivered_query(query["id"])
        return {"update_id": next(self._update_ids), "callback_query": query}


MEDIA: dict[str, dict[str, Any]] = {
    "photo": {"photo": [{"file_id": "p1", "file_unique_id": "up1", "width": 90, "height": 90},
                        {"file_id": "p2", "file_unique_id": "up2", "width": 800, "height": 600}]},
    "voice": {"voice": {"file_id": "v1", "file_unique_id": "uv1", "duration": 3,
                        "mime_type": "audio/ogg"}},
    "sticker": {"sticker": {"file_id": "s1", "file_unique_id": "us1", "type": "regular",
                            "width": 512, "height": 512, "is_animated": False,
                            "is_video": False}},
    "document": {"document": {"file_id": "d1", "file_unique_id": "ud1", "file_name": "receipt.pdf",
                              "mime_type": "application/pdf"}},
    "video": {"video": {"file_id": "vi1", "file_unique_id": "uvi1", "width": 640, "height": 360,
                        "duration": 5, "mime_type": "video/mp4"}},
}


def _chat(chat_id: int, chat_type: str) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = "Jane"
    else:
        chat["title"] = "Northwind customers"
    return chat


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entities(text: str) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    command = re.match(r"/\w+(@\w+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0,
                         "length": _utf16_len(command.group(0))})
    for mention in re.finditer(r"(?<!\w)@\w{5,32}", text):
        entities.append({"type": "mention", "offset": _utf16_len(text[:mention.start()]),
                         "length": _utf16_len(mention.group(0))})
    return entities
