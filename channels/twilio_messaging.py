"""Twilio Programmable Messaging, as the SMS and WhatsApp channels both use it: the signed
form-encoded webhooks (checked against the public URL Twilio called), the Messages resource
through the `twilio` library, Twilio's opt-out keywords, numbered options and media fields.
Twilio's signature has no timestamp, so a replayed request is stopped by MessageSid
de-duplication in the channel instead."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from contextvars import ContextVar
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from dataclasses import dataclass, field as dataclass_field
from typing import Callable, Literal, Mapping, Sequence
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from multidict import MultiDict
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot.channel_port import (REFUSED, Attachment, Button, ConversationView, Intake,
                              OutboundMessage, SettingsError)
from bot.http_bodies import read_bytes
from bot.redaction import mask_id, redact
from channels.outbound import (AGENT_LABEL, PermanentSendError, RetryableSendError, shown_text,
                               split_text)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twilio.com"
BODY_LIMIT = 1600  # Twilio refuses longer bodies (error 21617), on WhatsApp too
SEND_TIMEOUT_S = 15.0
MAX_MEDIA = 10  # Twilio sends at most 10 media items per message
MAX_BODY_BYTES = 64 * 1024  # Twilio's form is a few KB even with ten media items
FORM_TYPE = "application/x-www-form-urlencoded"
TWILIO_UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"
FAILED_STATUSES = frozenset({"failed", "undelivered"})  # a message's status callback

STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# YES is also Twilio's opt-in word, but from a subscribed customer it is an answer for Rasa.
EXPLICIT_START = frozenset({"START", "UNSTOP"})

MediaKind = Literal["image", "audio", "video", "file"]
_MEDIA_KINDS: dict[str, MediaKind] = {"image": "image", "audio": "audio", "video": "video"}

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_NUMBERED_CHOICE = re.compile(r"#?\s*(\d{1,2})\s*[.)]?")
_TRAILING_PUNCTUATION = re.compile(r"[\s.!]+$")

# Set by _TwilioHttpClient for the request just made in this task; TwilioRestException does not
# keep response headers, and a context variable is safe with concurrent sends.
_retry_after: ContextVar[str | None] = ContextVar("twilio_retry_after", default=None)


def public_base_url(env: Mapping[str, str]) -> str:
    url = env["PUBLIC_BASE_URL"].rstrip("/")
    if not url.startswith(("https://", "http://")):
        # Every signature check would fail, and only a stream of 403s would say why.
        raise SettingsError(f"PUBLIC_BASE_URL must be the full URL Twilio calls, like "
                            f"https://help.example.com; got {url!r}")
    return url


@dataclass(frozen=True)
class TwilioAccount:
    """The account a Twilio channel sends through and checks signatures with."""

    account_sid: str
    auth_token: str = dataclass_field(repr=False)
    public_base_url: str  # what Twilio calls: webhooks are signed for it
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TwilioAccount:
        return cls(account_sid=env["TWILIO_ACCOUNT_SID"], auth_token=env["TWILIO_AUTH_TOKEN"],
                   public_base_url=public_base_url(env),
                   api_url=(env.get("TWILIO_API_URL") or DEFAULT_API_URL).rstrip("/"))


class TwilioRefused(PermanentSendError):
    """Twilio refused a send for good; `code` is its error code (21610: the number opted out)."""

    def __init__(self, reason: str, *, code: int | None) -> None:
        super().__init__(reason)
        self.code = code


class _TwilioHttpClient(AsyncTwilioHttpClient):
    """The library's aiohttp client with three fixes for us: it applies its own timeout (the stock
    client passes None to aiohttp, which means no timeout at all), it keeps Retry-After, and it
    does not log each request: the stock client formats a dozen INFO lines per message (phone
    numbers in them) even when the level drops them, half the CPU a reply costs."""

    def log_request(self, kwargs: dict[str, object]) -> None:
        pass

    def log_response(self, status_code: int, response: object) -> None:
        pass

    async def request(self, method: str, url: str, params: dict[str, object] | None = None,
                      data: dict[str, object] | None = None,
                      headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None, timeout: float | None = None,
                      allow_redirects: bool = False) -> TwilioResponse:
        response = await super().request(
            method, url, params=params, data=data, headers=headers, auth=auth,
            timeout=self.timeout if timeout is None else timeout, allow_redirects=allow_redirects)
        _retry_after.set((response.headers or {}).get("Retry-After"))
        return response


class TwilioMessaging:
    """One account's Messages resource and webhook signatures."""

    def __init__(self, account: TwilioAccount) -> None:
        self.account_sid = account.account_sid
        self.public_base_url = account.public_base_url
        self.api_url = account.api_url
        self._auth_token = account.auth_token
        self._validator = RequestValidator(account.auth_token)
        self._http: _TwilioHttpClient | None = None
        self._client: Client | None = None

    async def start(self) -> None:
        # Created here, inside the running loop: the http client opens an aiohttp session.
        self._http = _TwilioHttpClient(timeout=SEND_TIMEOUT_S)
        # A non-empty `environment` stops the library from reading os.environ (TWILIO_EDGE /
        # TWILIO_REGION there would silently rewrite the API host).
        self._client = Client(self.account_sid, self._auth_token, http_client=self._http,
                              environment={"TWILIO_ACCOUNT_SID": self.account_sid})
        self._client.api.base_url = self.api_url

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._client = None

    def public_url(self, request: web.Request) -> str:
        # Twilio signed the URL it called: our public address, with the exact query string.
        return self.public_base_url + request.raw_path

    async def signed_form(self, request: web.Request, *, what: str) -> MultiDict[str]:
        """The webhook's form, only if Twilio signed it (403 otherwise; 4xx for a bad body)."""
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            log.warning("%s webhook refused: no X-Twilio-Signature", what)
            raise web.HTTPForbidden(text="invalid signature")
        form = await read_form(request)
        if not self._validator.validate(self.public_url(request), form, signature):
            log.warning("%s webhook refused: invalid X-Twilio-Signature for %s (the webhook URL "
                        "set in Twilio must be exactly this)", what, self.public_url(request))
            raise web.HTTPForbidden(text="invalid signature")
        return form

    async def create(self, **params: str) -> str:
        """Create a message (the library's keyword names: to, from_, body, content_sid, ...);
        its sid. Raises RetryableSendError or TwilioRefused."""
        if self._client is None:
            raise PermanentSendError("Twilio client not started")
        _retry_after.set(None)
        try:
            message = await self._client.messages.create_async(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            status, code = int(exc.status), exc.code
            reason = f"Twilio answered {status} (error {code}): {_error_text(exc)}"
            if status == 429:
                raise RetryableSendError(
                    reason, retry_after_s=parse_retry_after(_retry_after.get())) from exc
            if status >= 500:
                raise RetryableSendError(reason) from exc
            raise TwilioRefused(reason, code=int(code) if code is not None else None) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RetryableSendError(f"Twilio API unreachable: {exc!r}") from exc
        return str(message.sid)


OPTED_OUT = "opted_out"  # in the conversation's channel data
OPTED_OUT_AT = "opted_out_changed_at"


class OptOuts:
    """A Twilio channel's STOP, START and HELP: whether a customer opted out is kept in the
    conversation's channel data (it survives restarts and is shared by every instance), and
    nothing is sent to them until START. `replies`: the TwiML confirmation per keyword (None:
    none of ours)."""

    def __init__(self, intake: Intake, *, what: str, replies: Mapping[str, str | None]) -> None:
        self._intake = intake
        self._what = what
        self._replies = replies

    @staticmethod
    def opted_out(view: ConversationView) -> bool:
        return bool(view.channel_data.get(OPTED_OUT))

    async def on_keyword(self, keyword: str, conversation_id: str, sender: str, sid: str, *,
                         opted_out: bool) -> str | None:
        """Handle STOP/START/HELP; the TwiML confirmation to send, if any."""
        # The opt-out first (doing it twice is harmless): marked seen before it was written, a
        # failure would leave Twilio's retry looking like a duplicate and the STOP lost.
        if keyword in ("STOP", "START"):
            await self.set(conversation_id, sender, keyword == "STOP")
        if not await self._intake.first_seen(f"keyword:{sid}"):
            log.info("duplicate %s keyword message %s: not confirmed again", self._what, sid)
            return None
        if keyword == "HELP" and opted_out:
            log.info("HELP from opted-out %s not answered (waiting for START)",
                     mask_id(conversation_id))
            return None
        return self._replies.get(keyword)

    async def set(self, conversation_id: str, sender: str, opted_out: bool) -> None:
        await self._intake.open_conversation(conversation_id, customer_id=sender)
        await self._intake.keep_channel_data(conversation_id, {OPTED_OUT: opted_out,
                                                               OPTED_OUT_AT: time.time()})
        log.info("%s: %s opted %s", self._what, mask_id(conversation_id),
                 "out" if opted_out else "back in")


@dataclass(frozen=True)
class FailedMessage:
    """A status callback's report that a message we sent did not arrive."""

    sid: str
    status: str  # failed | undelivered
    error_code: str  # Twilio's, "?" when it gave none
    to: str  # the address it was sent to


async def status_callback(request: web.Request, messaging: TwilioMessaging, intake: Intake, *,
                          what: str, conversation_of: Callable[[str], str | None],
                          describe: Callable[[FailedMessage], str]) -> web.Response:
    """Twilio's later word on a message (signed like a webhook): a failure is reported for its
    conversation (`conversation_of` its To address, None when not ours); good news is only
    acknowledged; the intake records a message's failure once. A report the core cannot take
    now answers 503 (Twilio retries a callback
    only with connection overrides on its URL; the log line stays either way)."""
    form = await messaging.signed_form(request, what=f"{what} status")
    status = field(form, "MessageStatus").lower()
    failed = FailedMessage(sid=field(form, "MessageSid"), status=status,
                           error_code=field(form, "ErrorCode") or "?", to=field(form, "To"))
    conversation_id = conversation_of(failed.to)
    if not failed.sid or conversation_id is None or status not in FAILED_STATUSES:
        return web.Response(status=204)
    log.error("%s message %s to %s %s (error %s)", what, failed.sid, mask_id(conversation_id),
              status, failed.error_code)
    try:
        await intake.report_undelivered(conversation_id, describe(failed), message_id=failed.sid)
    except REFUSED as exc:
        log.warning("%s status of %s not recorded: %s", what, failed.sid, exc)
        return web.Response(status=503, text="try again")
    return web.Response(status=204)


# --- helpers ----------------------------------------------------------------------------------
def twiml(reply: str | None = None) -> web.Response:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return web.Response(text=str(response), content_type="text/xml")


async def read_form(request: web.Request) -> MultiDict[str]:
    """Twilio's form, parsed strictly: capped in size, UTF-8 only (what Twilio sends), anything
    else a 4xx. aiohttp's own request.post() raised on a bad charset or invalid UTF-8 (a 500)."""
    content_type = request.content_type
    charset = (request.charset or "utf-8").lower()
    if content_type != FORM_TYPE:
        raise web.HTTPUnsupportedMediaType(text=f"expected {FORM_TYPE}")
    if charset not in ("utf-8", "utf8", "us-ascii", "ascii"):
        raise web.HTTPUnsupportedMediaType(text=f"charset {charset[:40]!r} is not supported")
    raw = await read_bytes(request, max_bytes=MAX_BODY_BYTES)
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict",
                          max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise web.HTTPBadRequest(text="the form is not valid UTF-8 form data") from None
    return MultiDict(pairs)


def field(form: MultiDict[str], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def e164(raw: str) -> str | None:
    number = re.sub(r"\s", "", raw)
    return number if _E164.fullmatch(number) else None


def opt_keyword(body: str, opt_out_type: str, *, opted_out: bool,
                stop_words: frozenset[str] = STOP_KEYWORDS) -> str | None:
    """STOP, START or HELP when the whole text is one of Twilio's keywords (`stop_words`: the
    channel's opt-out words), else None. Twilio's Advanced Opt-Out names the kind in OptOutType
    (covering custom keywords too)."""
    word = _TRAILING_PUNCTUATION.sub("", body.strip()).upper()
    kind = opt_out_type.upper() if opt_out_type.upper() in ("STOP", "START", "HELP") else None
    for name, words in (("STOP", stop_words), ("START", START_KEYWORDS),
                        ("HELP", HELP_KEYWORDS)):
        if kind is None and word in words:
            kind = name
    if kind == "START" and not opted_out and word not in EXPLICIT_START:
        return None  # "yes" from a subscribed customer answers the bot's question
    return kind


def chosen_button(body: str, offered: Sequence[Mapping[str, str]]) -> Button | None:
    """The offered option a reply like "2", " 2." or "#2" picks; None for anything else
    (a number out of range stays plain text)."""
    match = _NUMBERED_CHOICE.fullmatch(body.strip())
    if match is None:
        return None
    index = int(match.group(1))
    if not 1 <= index <= len(offered):
        return None
    return Button.from_dict(offered[index - 1])


def attachments(form: MultiDict[str]) -> tuple[Attachment, ...]:
    try:
        count = int(field(form, "NumMedia") or 0)
    except ValueError:
        count = 0
    return tuple(
        Attachment(kind=_media_kind(field(form, f"MediaContentType{i}")),
                   url=field(form, f"MediaUrl{i}") or None,
                   mime_type=field(form, f"MediaContentType{i}") or None)
        for i in range(min(count, MAX_MEDIA)))


def bodies(messages: Sequence[OutboundMessage], *,
           convert: Callable[[str], str] = lambda text: text) -> list[str]:
    """The bodies of a turn, in order, each within Twilio's limit (`convert`: the channel's
    text conversion, e.g. GSM-7 for SMS). A person's words say so on every part (on the first
    alone, the rest read as the bot's)."""
    if not any(m.role == "agent" for m in messages):
        return split_text(convert(_render(messages)), BODY_LIMIT)
    parts: list[str] = []
    for message in messages:
        label = AGENT_LABEL if message.role == "agent" and message.text.strip() else ""
        text = convert(_render([message], labelled=False))
        parts += [label + part for part in split_text(text, BODY_LIMIT - len(label))]
    return parts


def _render(messages: Sequence[OutboundMessage], *, labelled: bool = True) -> str:
    """One body for a turn. Buttons of every message are numbered together at the end, in the
    order the core kept them as the offered buttons, so "2" means the same thing on both sides
    (plain Twilio messages carry no buttons of their own)."""
    texts = [(shown_text(m) if labelled else m.text) + (f"\n{m.image_url}" if m.image_url else "")
             for m in messages]
    turn = OutboundMessage(text="\n\n".join(t for t in texts if t.strip()),
                           buttons=tuple(b for m in messages for b in m.buttons))
    return turn.text_with_numbered_options()


def _media_kind(mime_type: str) -> MediaKind:
    return _MEDIA_KINDS.get(mime_type.split("/", 1)[0].lower(), "file")


def _error_text(exc: TwilioRestException | TwilioServiceException) -> str:
    # Not str(exc): on a terminal the library renders it with colour escape codes. Masked:
    # Twilio quotes the number it refused ("Invalid 'To' Phone Number: +44..."), and the reason
    # ends up in logs and transcripts.
    if isinstance(exc, TwilioServiceException):
        return redact(f"{exc.title}: {exc.detail}" if exc.detail else exc.title)
    return redact(str(exc.msg))


def parse_retry_after(raw: str | None) -> float | None:
    """Retry-After as seconds (a number of seconds or an HTTP date)."""
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
