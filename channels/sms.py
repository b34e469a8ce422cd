"""The SMS channel, through Twilio Programmable Messaging.

Inbound: Twilio POSTs each text (form-encoded) to PUBLIC_BASE_URL + /sms/twilio. The request is
trusted only if X-Twilio-Signature matches the URL Twilio called (the public one, not the address
the gateway sees behind a proxy) and the form fields, signed with the account's Auth Token. Twilio's
signature has no timestamp, so a replayed request is stopped by MessageSid de-duplication instead.

Replies: the webhook is answered at once with an empty TwiML <Response/> and the engine's replies
go out later through the REST API (Messages resource). Answering in TwiML would need the reply
within Twilio's 15-second webhook timeout, and a Rasa turn plus the order/identity backends and
their retries can be slower; a webhook that times out is an error on Twilio's side and the answer
is lost. Only the keyword confirmations (START, HELP), which need no Rasa, are answered in TwiML.

One turn is sent as one body: the replies joined, buttons as a numbered list at the end (a single
body keeps them in order on the handset; separate messages may arrive shuffled). Bodies over
Twilio's 1600-character limit are split and sent one after another. Each part's encoding and
segment count are logged because carriers bill per segment and one non-GSM character (an emoji, a
curly quote) switches the whole body to UCS-2, more than doubling the segments.

Opt-out: STOP and its synonyms mark the number opted out in the conversation store (it survives
restarts and is shared by every gateway instance through Redis). Nothing is sent to an opted-out
number until START: `deliver` checks the flag for every turn, so replies to messages that were
already queued are dropped (and logged) too. We do not confirm STOP ourselves: on real long codes
Twilio already sends the carrier-mandated confirmation and then blocks every further message to
the number (error 21610), so our own confirmation would either duplicate it or fail. START and HELP
are confirmed in TwiML. Keywords never reach Rasa, with one exception: YES (a Twilio opt-in
synonym) from a customer who is not opted out is an ordinary answer to the bot's question.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import partial
from urllib.parse import parse_qsl
from typing import Literal, Mapping, Sequence

import aiohttp
from aiohttp import web
from multidict import MultiDict
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot.channel_port import (REFUSED, Attachment, Button, ChannelFacts, CustomerIdKind,
                              DeliveryFailed, InboundMessage, Intake, OutboundMessage,
                              SettingsError, TextEncoding)
from bot.http_bodies import read_bytes
from bot.redaction import mask_id
from channels.outbound import (
    AGENT_LABEL,
    PermanentSendError,
    RetryableSendError,
    RetryPolicy,
    send_with_retry,
    shown_text,
    sms_encoding,
    sms_segments,
    sms_text,
    split_text,
)

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/sms/twilio"
REQUIRED_ENV = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL")
DEFAULT_API_URL = "https://api.twilio.com"
BODY_LIMIT = 1600  # Twilio refuses longer bodies (error 21617)
FACTS = ChannelFacts(name="sms", label="SMS", customer_noun="SMS customer",
                     customer_id=CustomerIdKind.PHONE,
                     icon="M8.5 2.5h7A2.5 2.5 0 0 1 18 5v14a2.5 2.5 0 0 1-2.5 2.5h-7A2.5 2.5 0 0 1 6 19V5"
                          "a2.5 2.5 0 0 1 2.5-2.5zM10.5 18.5h3",
                     max_text_chars=BODY_LIMIT,
                     max_buttons=None, encoding=TextEncoding.GSM7_WHERE_POSSIBLE)
SEND_TIMEOUT_S = 15.0
MAX_MEDIA = 10  # Twilio sends at most 10 media items per MMS
OPTED_OUT = "opted_out"  # in the conversation's channel data
OPTED_OUT_AT = "opted_out_changed_at"
MAX_BODY_BYTES = 64 * 1024  # Twilio's form is a few KB even with ten media items
FORM_TYPE = "application/x-www-form-urlencoded"

STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# YES is also Twilio's opt-in word, but from a subscribed customer it is an answer for Rasa.
EXPLICIT_START = frozenset({"START", "UNSTOP"})

START_REPLY = ("You're subscribed to our support assistant again. Text your question any time. "
               "Reply HELP for help, STOP to unsubscribe.")
HELP_REPLY = ("Support assistant: text your question (for example \"where is my order\") and an "
              "automated assistant answers; text AGENT to reach a person. Reply STOP to "
              "unsubscribe. Msg & data rates may apply.")

TWILIO_UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"

MediaKind = Literal["image", "audio", "video", "file"]
_MEDIA_KINDS: dict[str, MediaKind] = {"image": "image", "audio": "audio", "video": "video"}

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_NUMBERED_CHOICE = re.compile(r"#?\s*(\d{1,2})\s*[.)]?")
_TRAILING_PUNCTUATION = re.compile(r"[\s.!]+$")

# Set by _TwilioHttpClient for the request just made in this task; TwilioRestException does not
# keep response headers, and a context variable is safe with concurrent sends.
_retry_after: ContextVar[str | None] = ContextVar("twilio_retry_after", default=None)


@dataclass(frozen=True)
class SmsConfig:
    account_sid: str
    auth_token: str = field(repr=False)
    public_base_url: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmsConfig:
        from_number = env.get("TWILIO_FROM_NUMBER") or None
        service = env.get("TWILIO_MESSAGING_SERVICE_SID") or None
        if from_number is None and service is None:
            raise SettingsError("SMS channel: set TWILIO_FROM_NUMBER or "
                                "TWILIO_MESSAGING_SERVICE_SID (who the replies come from)")
        public_base_url = env["PUBLIC_BASE_URL"].rstrip("/")
        if not public_base_url.startswith(("https://", "http://")):
            # Every signature check would fail, and only a stream of 403s would say why.
            raise SettingsError(f"PUBLIC_BASE_URL must be the full URL Twilio calls, like "
                                f"https://help.example.com; got {public_base_url!r}")
        return cls(
            account_sid=env["TWILIO_ACCOUNT_SID"],
            auth_token=env["TWILIO_AUTH_TOKEN"],
            public_base_url=public_base_url,
            from_number=from_number,
            messaging_service_sid=service,
            api_url=(env.get("TWILIO_API_URL") or DEFAULT_API_URL).rstrip("/"),
        )


def build(intake: Intake, env: Mapping[str, str]) -> SmsChannel:
    return SmsChannel(intake, SmsConfig.from_env(env), retry=RetryPolicy.from_env(env))


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


class SmsChannel:
    name = FACTS.name
    facts = FACTS

    def __init__(self, intake: Intake, config: SmsConfig, *,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self._intake = intake
        self._retry = retry
        self._config = config
        self._validator = RequestValidator(config.auth_token)
        self._http: _TwilioHttpClient | None = None
        self._client: Client | None = None

    def mount(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self) -> None:
        # Created here, inside the running loop: the http client opens an aiohttp session.
        self._http = _TwilioHttpClient(timeout=SEND_TIMEOUT_S)
        # A non-empty `environment` stops the library from reading os.environ (TWILIO_EDGE /
        # TWILIO_REGION there would silently rewrite the API host).
        self._client = Client(self._config.account_sid, self._config.auth_token,
                              http_client=self._http,
                              environment={"TWILIO_ACCOUNT_SID": self._config.account_sid})
        self._client.api.base_url = self._config.api_url
        sender = self._config.messaging_service_sid or self._config.from_number
        log.info("sms: webhook %s%s, replies from %s via %s", self._config.public_base_url,
                 WEBHOOK_PATH, sender, self._config.api_url)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._client = None

    # --- inbound --------------------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            log.warning("sms webhook refused: no X-Twilio-Signature")
            return web.Response(status=403, text="invalid signature")
        form = await _read_form(request)
        if not self._validator.validate(self._public_url(request), form, signature):
            log.warning("sms webhook refused: invalid X-Twilio-Signature for %s (the webhook URL "
                        "set in Twilio must be exactly this)", self._public_url(request))
            return web.Response(status=403, text="invalid signature")
        sid = _field(form, "MessageSid") or _field(form, "SmsMessageSid")
        sender = _e164(_field(form, "From"))
        if not sid or sender is None:
            # Not a text we can answer (e.g. a WhatsApp or short-code sender): acknowledged so
            # Twilio does not report a webhook error, but not processed.
            log.warning("sms webhook %s ignored: no MessageSid or From is not an E.164 number",
                        sid or "?")
            return _twiml()
        conversation_id = f"sms:{sender}"
        body = _field(form, "Body")
        try:
            state = await self._intake.view(conversation_id, acknowledging=True)
            opted_out = bool(state.channel_data.get(OPTED_OUT))
            keyword = _keyword(body, _field(form, "OptOutType"), opted_out=opted_out)
            if keyword is not None:
                return _twiml(await self._on_keyword(keyword, conversation_id, sender, sid,
                                                     opted_out=opted_out))
            if opted_out:
                # We could not answer anyway: nothing may be sent until the customer texts START.
                log.info("sms %s from opted-out %s not processed (waiting for START)",
                         sid, mask_id(conversation_id))
                return _twiml()
            message = _inbound(conversation_id, sender, sid, body, form,
                               offered=list(state.offered_buttons))
            await self._intake.accept(message)
        except REFUSED as exc:
            # Not acknowledged: Twilio retries (with connection overrides, docs/channels/sms.md)
            # or reports the failure; the message is not silently taken.
            log.warning("sms %s not accepted: %s", sid, exc)
            return web.Response(status=503, text="try again")
        return _twiml()

    def _public_url(self, request: web.Request) -> str:
        # Twilio signed the URL it called: our public address, with the exact query string.
        return self._config.public_base_url + request.raw_path

    async def _on_keyword(self, keyword: str, conversation_id: str, sender: str, sid: str, *,
                          opted_out: bool) -> str | None:
        """Handle STOP/START/HELP; returns the TwiML confirmation to send, if any."""
        if not await self._intake.first_seen(f"keyword:{sid}"):
            log.info("duplicate sms keyword message %s ignored", sid)
            return None
        if keyword == "STOP":
            await self._set_opted_out(conversation_id, sender, True)
            return None  # Twilio confirms STOP itself; see the module docstring
        if keyword == "START":
            await self._set_opted_out(conversation_id, sender, False)
            return START_REPLY
        if opted_out:
            log.info("HELP from opted-out %s not answered (waiting for START)",
                     mask_id(conversation_id))
            return None
        return HELP_REPLY

    async def _set_opted_out(self, conversation_id: str, sender: str, opted_out: bool) -> None:
        await self._intake.open_conversation(conversation_id, customer_id=sender)
        await self._intake.keep_channel_data(conversation_id, {OPTED_OUT: opted_out,
                                                               OPTED_OUT_AT: time.time()})
        log.info("sms: %s opted %s", mask_id(conversation_id), "out" if opted_out else "back in")

    # --- delivery -------------------------------------------------------------------------
    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        if not messages:
            return  # end of a turn: SMS has no typing indicator to clear
        to = _number_of(conversation_id)
        state = await self._intake.view(conversation_id)
        if state.channel_data.get(OPTED_OUT):
            log.info("sms: %d repl%s to %s dropped: the number opted out (STOP)", len(messages),
                     "y" if len(messages) == 1 else "ies", mask_id(conversation_id))
            return
        parts = _bodies(messages)
        for number, part in enumerate(parts, start=1):
            what = f"sms to {mask_id(conversation_id)} (part {number}/{len(parts)})"
            sid = await send_with_retry(partial(self._send, conversation_id, to, part), what=what,
                                        policy=self._retry)
            log.info("%s sent as %s: %d chars, %s, %d segment(s)", what, sid, len(part),
                     sms_encoding(part), sms_segments(part))

    async def _send(self, conversation_id: str, to: str, body: str) -> str:
        if self._client is None:
            raise PermanentSendError("SMS channel not started")
        sender: dict[str, str] = (
            {"messaging_service_sid": self._config.messaging_service_sid}
            if self._config.messaging_service_sid else {"from_": self._config.from_number or ""})
        _retry_after.set(None)
        try:
            message = await self._client.messages.create_async(to=to, body=body, **sender)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise await self._send_error(conversation_id, exc) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RetryableSendError(f"Twilio API unreachable: {exc!r}") from exc
        return str(message.sid)

    async def _send_error(self, conversation_id: str,
                          exc: TwilioRestException | TwilioServiceException,
                          ) -> RetryableSendError | PermanentSendError:
        status, code = int(exc.status), exc.code
        reason = f"Twilio answered {status} (error {code}): {_error_text(exc)}"
        if status == 429:
            return RetryableSendError(reason, retry_after_s=_parse_retry_after(_retry_after.get()))
        if status >= 500:
            return RetryableSendError(reason)
        if code == TWILIO_UNSUBSCRIBED:
            # The carrier/Twilio says this number opted out (perhaps via another of our numbers):
            # remember it, so we stop trying until the customer texts START.
            await self._set_opted_out(conversation_id, _number_of(conversation_id), True)
        return PermanentSendError(reason)


# --- helpers ----------------------------------------------------------------------------------
def _twiml(reply: str | None = None) -> web.Response:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return web.Response(text=str(response), content_type="text/xml")


async def _read_form(request: web.Request) -> MultiDict[str]:
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


def _field(form: MultiDict[str], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _e164(raw: str) -> str | None:
    number = re.sub(r"\s", "", raw)
    return number if _E164.fullmatch(number) else None


def _number_of(conversation_id: str) -> str:
    number = _e164(conversation_id.removeprefix("sms:"))
    if not conversation_id.startswith("sms:") or number is None:
        raise DeliveryFailed(f"{conversation_id!r} is not an SMS conversation id")
    return number


def _keyword(body: str, opt_out_type: str, *, opted_out: bool) -> str | None:
    """STOP, START or HELP when the whole text is one of Twilio's keywords, else None.
    Twilio's Advanced Opt-Out names the kind in OptOutType (covering custom keywords too)."""
    word = _TRAILING_PUNCTUATION.sub("", body.strip()).upper()
    kind = opt_out_type.upper() if opt_out_type.upper() in ("STOP", "START", "HELP") else None
    for name, words in (("STOP", STOP_KEYWORDS), ("START", START_KEYWORDS),
                        ("HELP", HELP_KEYWORDS)):
        if kind is None and word in words:
            kind = name
    if kind == "START" and not opted_out and word not in EXPLICIT_START:
        return None  # "yes" from a subscribed customer answers the bot's question
    return kind


def _inbound(conversation_id: str, sender: str, sid: str, body: str,
             form: MultiDict[str], *, offered: Sequence[Mapping[str, str]]) -> InboundMessage:
    chosen = _chosen_button(body, offered)
    return InboundMessage(
        channel="sms",
        conversation_id=conversation_id,
        customer_id=sender,
        text=chosen.title if chosen else body,
        platform_message_id=sid,
        button_payload=chosen.payload if chosen else None,
        attachments=_attachments(form),
        received_at=time.time(),
    )


def _chosen_button(body: str, offered: Sequence[Mapping[str, str]]) -> Button | None:
    """The offered option a reply like "2", " 2." or "#2" picks; None for anything else
    (a number out of range stays plain text)."""
    match = _NUMBERED_CHOICE.fullmatch(body.strip())
    if match is None:
        return None
    index = int(match.group(1))
    if not 1 <= index <= len(offered):
        return None
    return Button.from_dict(offered[index - 1])


def _attachments(form: MultiDict[str]) -> tuple[Attachment, ...]:
    try:
        count = int(_field(form, "NumMedia") or 0)
    except ValueError:
        count = 0
    return tuple(
        Attachment(kind=_media_kind(_field(form, f"MediaContentType{i}")),
                   url=_field(form, f"MediaUrl{i}") or None,
                   mime_type=_field(form, f"MediaContentType{i}") or None)
        for i in range(min(count, MAX_MEDIA)))


def _media_kind(mime_type: str) -> MediaKind:
    return _MEDIA_KINDS.get(mime_type.split("/", 1)[0].lower(), "file")


def _bodies(messages: Sequence[OutboundMessage]) -> list[str]:
    """The SMS bodies of a turn, in order, each within Twilio's limit and in GSM-7 where the
    meaning survives. A person's words say so on every part (on the first alone, the rest read
    as the bot's)."""
    if not any(m.role == "agent" for m in messages):
        return split_text(sms_text(_render(messages)), BODY_LIMIT)
    bodies: list[str] = []
    for message in messages:
        label = AGENT_LABEL if message.role == "agent" and message.text.strip() else ""
        text = sms_text(_render([message], labelled=False))
        bodies += [label + part for part in split_text(text, BODY_LIMIT - len(label))]
    return bodies


def _render(messages: Sequence[OutboundMessage], *, labelled: bool = True) -> str:
    """One body for a turn. Buttons of every message are numbered together at the end, in the
    order the core kept them as the offered buttons, so "2" means the same thing on both sides."""
    texts = [(shown_text(m) if labelled else m.text) + (f"\n{m.image_url}" if m.image_url else "")
             for m in messages]
    turn = OutboundMessage(text="\n\n".join(t for t in texts if t.strip()),
                           buttons=tuple(b for m in messages for b in m.buttons))
    return turn.text_with_numbered_options()


def _error_text(exc: TwilioRestException | TwilioServiceException) -> str:
    # Not str(exc): on a terminal the library renders it with colour escape codes.
    if isinstance(exc, TwilioServiceException):
        return f"{exc.title}: {exc.detail}" if exc.detail else exc.title
    return str(exc.msg)


def _parse_retry_after(raw: str | None) -> float | None:
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
