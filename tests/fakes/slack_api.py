"""A fake Slack for the real slack_sdk and slack-bolt code to talk to over loopback.

FakeSlackApi is the Web API (auth.test, chat.postMessage, chat.update, chat.delete,
chat.postEphemeral, conversations.members): it records every call (`calls`), can be told to fail
the next calls (`fail`: 429 with Retry-After, 5xx, API errors), and refuses what Slack refuses,
with Slack's error codes (HTTP 200, ok=false):
- a missing or wrong bot token: invalid_auth;
- no channel: channel_not_found; neither text nor blocks: no_text; text over 40,000 characters:
  msg_too_long;
- Block Kit: more than 50 blocks, a block_id over 255 characters, a section without text or
  fields, section text over 3,000 (or empty), more than 10 fields or one over 2,000, a header
  that is not plain_text or over 150, a context block with more than 10 elements, an actions
  block with more than 25 elements or repeated action_ids, a button whose plain_text is over
  75 characters, whose value is over 2,000, whose action_id is over 255 or whose url is over
  3,000: invalid_blocks;
- chat.update and chat.delete act only on messages this fake created (it remembers every
  message by channel and ts, and forgets deleted ones): a ts it never created in that channel is
  message_not_found, a channel it never posted to is channel_not_found;
- chat.postEphemeral without a user: user_not_found;
- conversations.members of a channel not in `members`: channel_not_found.
It does not know which channels exist: posting to any channel id works.

SlackSender plays Slack's side of the Events API and interactivity: signed event callbacks (with
retry headers) and button presses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"
TEAM = "T0001"
CUSTOMER = "UCUSTOMER"
DM_CHANNEL = "D0DM0001"
SUPPORT_CHANNEL = "CSUPPORT"  # listed in SLACK_CHANNELS: every message is for the bot
OTHER_CHANNEL = "COTHER"  # not listed: only @mentions (and threads the bot is in)

Signature = Literal["valid", "invalid", "missing", "stale"]
_ts = itertools.count(100)


def next_ts() -> str:
    return f"1710000000.{next(_ts):06d}"


# --- event payloads, as Slack sends them ------------------------------------------------------
def dm(text: str, *, user: str = CUSTOMER, ts: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel": DM_CHANNEL, "channel_type": "im", "user": user,
            "text": text, "ts": ts or next_ts(), "team": TEAM, **extra}


def channel_message(text: str, *, channel: str = SUPPORT_CHANNEL, user: str = CUSTOMER,
                    ts: str | None = None, thread_ts: str | None = None,
                    **extra: Any) -> dict[str, Any]:
    event = {"type": "message", "channel": channel, "channel_type": "channel", "user": user,
             "text": text, "ts": ts or next_ts(), "team": TEAM, **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def mention(text: str, *, channel: str = OTHER_CHANNEL, user: str = CUSTOMER,
            ts: str | None = None, thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "channel": channel, "user": user,
             "text": f"<@UBOT> {text}", "ts": ts or next_ts(), "team": TEAM}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


# --- the sender -------------------------------------------------------------------------------
@dataclass
class SlackSender:
    http: aiohttp.ClientSession
    url: str

    async def post(self, body: str, *, content_type: str, signature: Signature = "valid",
                   headers: dict[str, str] | None = None) -> tuple[int, str]:
        all_headers = {"Content-Type": content_type, **signature_headers(body, signature),
                       **(headers or {})}
        async with self.http.post(f"{self.url}/slack/events", data=body.encode(),
                                  headers=all_headers) as resp:
            return resp.status, await resp.text()

    async def send(self, event: dict[str, Any], *, event_id: str | None = None,
                   retry_num: int | None = None, signature: Signature = "valid") -> int:
        """Deliver one Events API callback; returns the HTTP status the gateway answered."""
        envelope = {"token": "legacy-verification-token", "team_id": TEAM, "api_app_id": "A0APP",
                    "type": "event_callback", "event": event,
                    "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
                    "event_time": int(time.time())}
        headers = ({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
                   if retry_num else None)
        status, _ = await self.post(json.dumps(envelope), content_type="application/json",
                                    signature=signature, headers=headers)
        return status

    async def press(self, posted: ApiCall, index: int = 0, *, user: str = CUSTOMER,
                    signature: Signature = "valid") -> int:
        """Press button `index` of a message the bot posted, as Slack's interactivity does."""
        message = posted.result["message"]
        actions = next(b for b in message["blocks"] if b["type"] == "actions")
        button = actions["elements"][index]
        channel = posted.body["channel"]
        container = {"type": "message", "message_ts": message["ts"], "channel_id": channel,
                     "is_ephemeral": False}
        if "thread_ts" in message:
            container["thread_ts"] = message["thread_ts"]
        payload = {
            "type": "block_actions", "api_app_id": "A0APP", "token": "legacy-verification-token",
            "team": {"id": TEAM, "domain": "acme"}, "user": {"id": user, "team_id": TEAM},
            "container": container, "channel": {"id": channel, "name": "support"},
            "message": message, "trigger_id": "123.456.abc",
            "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
            "actions": [{"type": "button", "action_id": button["action_id"],
                         "block_id": actions["block_id"], "text": button["text"],
                         "value": button["value"], "action_ts": f"{time.time():.6f}"}],
        }
        body = quote(json.dumps(payload), safe="")
        status, _ = await self.post(f"payload={body}",
                                    content_type="application/x-www-form-urlencoded",
                                    signature=signature)
        return status


def signature_headers(body: str, signature: Signature) -> dict[str, str]:
    if signature == "missing":
        return {}
    now = int(time.time())
    timestamp = str(now - 6 * 60 if signature == "stale" else now)  # the replay window is 5 min
    secret = "not-the-signing-secret" if signature == "invalid" else SIGNING_SECRET
    return {"X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
                timestamp=timestamp, body=body)}


# --- the Web API -------------------------------------------------------------------------------
# Block Kit and message limits (docs.slack.dev: chat.postMessage, reference/block-kit).
SECTION_TEXT_LIMIT = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_LIMIT = 2000
HEADER_LIMIT = 150
MESSAGE_TEXT_LIMIT = 40000
BLOCKS_MAX = 50
BLOCK_ID_LIMIT = 255
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ACTION_ID_LIMIT = 255
BUTTON_URL_LIMIT = 3000


@dataclass(frozen=True)
class ApiCall:
    method: str
    body: dict[str, Any]
    token: str | None
    status: int  # what the fake answered
    result: dict[str, Any]  # the JSON answered (for messages: the "message" Slack created)

    @property
    def ok(self) -> bool:
        return bool(self.result.get("ok"))


@dataclass(frozen=True)
class Failure:
    status: int
    error: str
    retry_after: str | None = None


@dataclass
class FakeSlackApi:
    token: str = TOKEN
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    team_id: str = TEAM
    # conversations.members answers from here; a channel not listed is channel_not_found
    members: dict[str, list[str]] = field(default_factory=dict)
    members_page_limit: int = 1000  # Slack may return fewer than asked for: pages get smaller
    calls: list[ApiCall] = field(default_factory=list)
    # Every message this fake created and still has, by (channel, ts): what chat.update and
    # chat.delete may act on.
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _channels: set[str] = field(default_factory=set)  # every channel it posted to
    _failures: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- test controls ---------------------------------------------------------------------------
    def fail(self, method: str, *, status: int = 500, error: str = "internal_error",
             retry_after: str | None = None, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with this failure instead of success."""
        for _ in range(times):
            self._failures[method].append(Failure(status, error, retry_after))

    def attempts(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def posts(self) -> list[dict[str, Any]]:
        """Bodies of the messages Slack accepted, in order."""
        return [c.body for c in self.attempts("chat.postMessage") if c.ok]

    def updates(self) -> list[dict[str, Any]]:
        return [c.body for c in self.attempts("chat.update") if c.ok]

    def deletes(self) -> list[dict[str, Any]]:
        return [c.body for c in self.attempts("chat.delete") if c.ok]

    def ephemerals(self) -> list[dict[str, Any]]:
        return [c.body for c in self.attempts("chat.postEphemeral") if c.ok]

    async def wait_for(self, method: str, count: int, *, ok: bool | None = True,
                       timeout_s: float = 5.0) -> list[ApiCall]:
        """Wait until `count` calls of `method` (successful ones by default) have arrived."""
        async def enough() -> list[ApiCall]:
            while True:
                found = [c for c in self.attempts(method) if ok is None or c.ok == ok]
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.01)

        try:
            return await asyncio.wait_for(enough(), timeout_s)
        except TimeoutError:
            raise AssertionError(
                f"expected {count} {method} calls within {timeout_s}s, got "
                f"{[(c.status, c.body.get('text')) for c in self.attempts(method)]}") from None

    async def wait_for_posts(self, count: int, *, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        return [c.body for c in await self.wait_for("chat.postMessage", count, timeout_s=timeout_s)]

    # --- server ----------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads some methods with GET
        return app

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await _read_body(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
        status, payload, headers = self._answer(method, body, token)
        self.calls.append(ApiCall(method, body, token, status, payload))
        if status >= 500:  # a load balancer's error page, not JSON, like the real thing
            return web.Response(status=status, text="upstream error", headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _answer(self, method: str, body: dict[str, Any],
                token: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self._failures[method]:
            failure = self._failures[method].popleft()
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return failure.status, {"ok": False, "error": failure.error}, headers
        if method == "auth.test":
            return 200, {"ok": True, "url": "https://acme.slack.com/", "team": "Acme",
                         "user": "helpbot", "team_id": self.team_id, "user_id": self.bot_user_id,
                         "bot_id": self.bot_id}, {}
        if method == "chat.postMessage":
            return self._post(body)
        if method == "chat.update":
            return self._update(body)
        if method == "chat.delete":
            return self._delete(body)
        if method == "chat.postEphemeral":
            problem = _message_problem(body) or (None if body.get("user") else "user_not_found")
            if problem:
                return 200, {"ok": False, "error": problem}, {}
            return 200, {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}, {}
        if method == "conversations.members":
            return 200, self._members_page(body), {}
        return 200, {"ok": False, "error": "unknown_method"}, {}

    def _post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        problem = _message_problem(body)
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        ts = f"1700000000.{next(self._ts):06d}"
        kept = {k: body[k] for k in ("text", "blocks", "thread_ts") if k in body}
        message = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id,
                   "ts": ts, **kept}
        self.messages[(str(body["channel"]), ts)] = message
        self._channels.add(str(body["channel"]))
        return 200, {"ok": True, "channel": body["channel"], "ts": ts, "message": message}, {}

    def _update(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        problem = _message_problem(body) or self._missing(body)
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        key = (str(body["channel"]), str(body["ts"]))
        message = dict(self.messages[key])
        # As Slack does: new text without blocks replaces the blocks too.
        if "text" in body and "blocks" not in body:
            message.pop("blocks", None)
        message.update({k: body[k] for k in ("text", "blocks") if k in body})
        self.messages[key] = message
        return 200, {"ok": True, "channel": key[0], "ts": key[1],
                     "text": message.get("text", ""), "message": message}, {}

    def _delete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        problem = ("channel_not_found" if not body.get("channel") else None) or self._missing(body)
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        key = (str(body["channel"]), str(body["ts"]))
        del self.messages[key]
        return 200, {"ok": True, "channel": key[0], "ts": key[1]}, {}

    def _missing(self, body: dict[str, Any]) -> str | None:
        """Why chat.update/chat.delete cannot find the message, or None."""
        channel, ts = str(body.get("channel") or ""), str(body.get("ts") or "")
        if channel not in self._channels and channel not in self.members:
            return "channel_not_found"
        if (channel, ts) not in self.messages:
            return "message_not_found"
        return None

    def _members_page(self, body: dict[str, Any]) -> dict[str, Any]:
        """One page of a channel's members; the cursor is the offset, as opaque as Slack's."""
        channel = str(body.get("channel") or "")
        if channel not in self.members:
            return {"ok": False, "error": "channel_not_found"}
        everyone = self.members[channel]
        start = int(body.get("cursor") or 0)
        size = min(int(body.get("limit") or 100), self.members_page_limit)
        rest = start + size
        return {"ok": True, "members": everyone[start:rest],
                "response_metadata": {"next_cursor": str(rest) if rest < len(everyone) else ""}}


async def _read_body(request: web.Request) -> dict[str, Any]:
    """The method's arguments: Slack takes them in the query string too (slack_sdk sends
    `params=` methods such as chat.delete that way), then in a JSON or form body."""
    body: dict[str, Any] = dict(request.query)
    if request.method == "GET":
        return body
    if request.content_type == "application/json":
        data = await request.json()
        return {**body, **data} if isinstance(data, dict) else body
    for key, value in (await request.post()).items():
        text = str(value)
        # slack_sdk sends blocks JSON-encoded inside form posts
        body[key] = json.loads(text) if key in ("blocks", "attachments") else text
    return body


def _message_problem(body: dict[str, Any]) -> str | None:
    """The error the real API gives for a malformed message, or None."""
    if not body.get("channel"):
        return "channel_not_found"
    if not body.get("text") and not body.get("blocks"):
        return "no_text"
    if len(str(body.get("text") or "")) > MESSAGE_TEXT_LIMIT:
        return "msg_too_long"
    blocks = body.get("blocks") or []
    if len(blocks) > BLOCKS_MAX or not all(_block_ok(block) for block in blocks):
        return "invalid_blocks"
    return None


def _block_ok(block: dict[str, Any]) -> bool:
    if len(str(block.get("block_id") or "")) > BLOCK_ID_LIMIT:
        return False
    kind = block.get("type")
    if kind == "section":
        fields = block.get("fields") or []
        if "text" not in block and not fields:
            return False
        if "text" in block and not 1 <= len(block["text"]["text"]) <= SECTION_TEXT_LIMIT:
            return False
        return len(fields) <= SECTION_FIELDS_MAX and all(
            len(f["text"]) <= SECTION_FIELD_LIMIT for f in fields)
    if kind == "header":
        return block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= HEADER_LIMIT
    if kind == "context":
        return 1 <= len(block.get("elements") or []) <= CONTEXT_ELEMENTS_MAX
    if kind == "actions":
        elements = block.get("elements") or []
        ids = [e.get("action_id") for e in elements]
        return (1 <= len(elements) <= ACTIONS_ELEMENTS_MAX and len(ids) == len(set(ids))
                and all(_element_ok(e) for e in elements))
    return True


def _element_ok(element: dict[str, Any]) -> bool:
    if len(str(element.get("action_id") or "")) > ACTION_ID_LIMIT:
        return False
    if element.get("type") != "button":
        return True
    text = element.get("text") or {}
    return (text.get("type") == "plain_text" and 1 <= len(str(text.get("text") or ""))
            <= BUTTON_TEXT_LIMIT and len(str(element.get("value") or "")) <= BUTTON_VALUE_LIMIT
            and len(str(element.get("url") or "")) <= BUTTON_URL_LIMIT)
