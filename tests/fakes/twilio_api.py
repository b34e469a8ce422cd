"""A fake Twilio for SMS and WhatsApp tests: the REST Messages resource the real `twilio` client
talks to, and the other direction, Twilio's signed webhook and status-callback requests to the
gateway.

The API side records every create request (`attempts`) and the accepted ones (`sent`), can be told
to fail the next requests (`fail_next`), and refuses what Twilio's Messages resource refuses, with
its HTTP status and error code (https://www.twilio.com/docs/api/errors):
- another account's URL: 404 (20404); wrong Basic auth: 401 (20003);
- no To: 400 (21604); a To that is not an E.164 number ("+" and 2 to 15 digits): 400 (21211);
- neither From nor MessagingServiceSid: 400 (21603); a From this account does not own (not in
  `numbers`): 400 (21606); a MessagingServiceSid that is not "MG" + 32 hex digits: 400 (21701);
- no Body (and no MediaUrl): 400 (21602); a Body over 1600 characters: 400 (21617);
- a To that texted STOP on Twilio's side (`unsubscribed`): 400 (21610).
WhatsApp (`whatsapp:+...` addresses, https://www.twilio.com/docs/whatsapp/api):
- To and From must both be WhatsApp addresses or neither; a WhatsApp From that is not one of the
  account's senders (`whatsapp_senders`): 400 (63007);
- a ContentSid that is not "HX" + 32 hex digits: 400 (21655);
- a free-form message (a Body, no ContentSid) to a customer whose last message is more than 24
  hours old (`customer_wrote`, by the fake's `clock`) is accepted (201, queued) and fails later:
  Twilio then POSTs the signed status callback (StatusCallback) "undelivered" with ErrorCode
  63016, as it does. Delivered messages get "sent" then "delivered" callbacks; an SMS to a
  number in `unreachable` gets "sent" then "undelivered" with ErrorCode 30003. Callbacks go to
  `gateway_url` (signed for the public URL) and only when it is set.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://help.example.com"  # what Twilio calls; the gateway sits behind a proxy
BODY_LIMIT = 1600
WHATSAPP_FROM = "whatsapp:+14155238886"  # the Twilio sandbox's sender
WHATSAPP_WINDOW_S = 24 * 3600
OUTSIDE_WINDOW = 63016
UNREACHABLE = 30003  # "Unreachable destination handset": the carrier could not deliver it
_E164 = re.compile(r"\+[1-9]\d{1,14}")
_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")
_CONTENT_SID = re.compile(r"HX[0-9a-f]{32}")


@dataclass(frozen=True)
class Failure:
    status: int
    code: int
    message: str
    retry_after: str | None = None


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    public_base_url: str = PUBLIC_BASE_URL
    # Numbers that texted STOP on Twilio's side: sends to them fail with 21610.
    unsubscribed: set[str] = field(default_factory=set)
    # The account's own phone numbers: the only valid From.
    numbers: set[str] = field(default_factory=lambda: {FROM_NUMBER})
    whatsapp_senders: set[str] = field(default_factory=lambda: {WHATSAPP_FROM})
    attempts: list[dict[str, str]] = field(default_factory=list)
    sent: list[dict[str, str]] = field(default_factory=list)
    # Numbers whose carrier accepts nothing: sends are queued, then reported undelivered.
    unreachable: set[str] = field(default_factory=set)
    # When each WhatsApp customer last wrote (by `clock`): their 24-hour window.
    customer_wrote: dict[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    callbacks: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # status, form
    # The gateway's own address: status callbacks Twilio sends to PUBLIC_BASE_URL (a proxy in
    # front of the gateway) are posted here, signed for the public URL.
    gateway_url: str | None = None
    _callback_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _failures: deque[Failure | None] = field(default_factory=deque)  # None: let one through
    _sids: Any = field(default_factory=lambda: itertools.count(1))

    # --- REST API -------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create_message)
        return app

    def fail_next(self, status: int, *, times: int = 1, after: int = 0, code: int | None = None,
                  message: str = "injected failure", retry_after: str | None = None) -> None:
        """Fail `times` create requests (after letting `after` of them succeed)."""
        self._failures.extend([None] * after)
        for _ in range(times):
            self._failures.append(Failure(status, code or status, message, retry_after))

    def whatsapp_env(self, api_url: str, **overrides: str) -> dict[str, str]:
        """The gateway environment for the WhatsApp channel alone (no SMS sender)."""
        return self.channel_env(api_url, **{"TWILIO_FROM_NUMBER": "",
                                            "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM, **overrides})

    def channel_env(self, api_url: str, **overrides: str) -> dict[str, str]:
        """The gateway environment that points the SMS channel at this fake (empty values are
        dropped, so an override of "" unsets a variable)."""
        env = {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "PUBLIC_BASE_URL": self.public_base_url,
            "TWILIO_API_URL": api_url,
            **overrides,
        }
        return {k: v for k, v in env.items() if v}

    def bodies(self, to: str | None = None) -> list[str]:
        return [m["Body"] for m in self.sent if to is None or m["To"] == to]

    async def wait_for_sent(self, count: int, *, timeout_s: float = 5.0) -> list[dict[str, str]]:
        """Wait until at least `count` messages were accepted; returns them all."""
        await wait_until(lambda: len(self.sent) >= count, timeout_s=timeout_s,
                         what=f"{count} sent SMS (have {len(self.sent)}: {self.bodies()})")
        return list(self.sent)

    async def wait_for_attempts(self, count: int, *, timeout_s: float = 10.0) -> None:
        await wait_until(lambda: len(self.attempts) >= count, timeout_s=timeout_s,
                         what=f"{count} send attempts (have {len(self.attempts)})")

    async def _create_message(self, request: web.Request) -> web.Response:
        if request.match_info["account"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        auth = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
        if (auth.login, auth.password) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.attempts.append(form)
        failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return _error(failure.status, failure.code, failure.message, headers=headers)
        refusal = self._refusal(form)
        if refusal is not None:
            return _error(400, *refusal)
        sid = f"{'MM' if form['To'].startswith('whatsapp:') else 'SM'}{next(self._sids):032x}"
        self.sent.append({**form, "Sid": sid})
        self._report_status(sid, form)
        return web.json_response(status=201, data={
            "sid": sid, "account_sid": self.account_sid, "to": form["To"],
            "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body", ""), "status": "queued", "num_segments": "1",
            "num_media": "1" if form.get("MediaUrl") else "0",
            "direction": "outbound-api", "api_version": "2010-04-01", "price": None,
            "error_code": None, "error_message": None, "uri":
                f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "date_created": None, "date_updated": None, "date_sent": None,
        })

    def _refusal(self, form: Mapping[str, str]) -> tuple[int, str] | None:
        """Twilio's error code and message for a create request it refuses, or None."""
        to, sender, service = form.get("To", ""), form.get("From"), form.get("MessagingServiceSid")
        whatsapp = to.startswith("whatsapp:")
        if not to:
            return 21604, "A 'To' phone number is required."
        if not _E164.fullmatch(to.removeprefix("whatsapp:")):
            return 21211, f"Invalid 'To' Phone Number: {to[:40]}"
        if not (sender or service):
            return 21603, "A 'From' phone number is required."
        if sender and whatsapp != sender.startswith("whatsapp:"):
            return 21910, "Invalid From and To pair. From and To should be of the same channel"
        if whatsapp and sender and sender not in self.whatsapp_senders:
            return 63007, ("Twilio could not find a Channel with the specified From address: "
                           f"{sender[:60]}")
        if form.get("ContentSid") and not _CONTENT_SID.fullmatch(form["ContentSid"]):
            return 21655, "The ContentSid is Invalid"
        if form.get("ContentSid"):
            return None  # a template: its text is Twilio's, no Body needed
        if sender and not whatsapp and sender not in self.numbers:
            return 21606, (f"The 'From' phone number provided ({sender[:40]}) is not a valid "
                           "message-capable Twilio phone number for this destination.")
        if service and not _SERVICE_SID.fullmatch(service):
            return 21701, "The Messaging Service does not exist"
        if not form.get("Body") and not form.get("MediaUrl"):
            return 21602, "Message body is required."
        if len(form.get("Body", "")) > BODY_LIMIT:
            return 21617, "The concatenated message body exceeds the 1600 character limit."
        if to in self.unsubscribed:
            return 21610, "Attempt to send to unsubscribed recipient"
        return None

    def _report_status(self, sid: str, form: Mapping[str, str]) -> None:
        """Twilio's later word on a WhatsApp message, to its StatusCallback (signed)."""
        url = form.get("StatusCallback")
        to = form["To"]
        wrote = self.customer_wrote.get(to.removeprefix("whatsapp:"))
        outside = to.startswith("whatsapp:") and not form.get("ContentSid") and (
            wrote is None or self.clock() - wrote > WHATSAPP_WINDOW_S)
        statuses = ([("undelivered", str(OUTSIDE_WINDOW))] if outside
                    else [("sent", ""), ("undelivered", str(UNREACHABLE))] if to in self.unreachable
                    else [("sent", ""), ("delivered", "")])
        if not url or not self.gateway_url:
            return  # nowhere to call back (a test that does not need callbacks)

        async def report() -> None:
            for status, code in statuses:
                params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status,
                          "SmsStatus": status, "To": form["To"], "From": form.get("From", ""),
                          "AccountSid": self.account_sid, "ApiVersion": "2010-04-01"}
                if to.startswith("whatsapp:"):
                    params["ChannelPrefix"] = "whatsapp"
                if code:
                    params["ErrorCode"] = code
                # Twilio calls the URL it was given, signing that URL.
                headers = {"X-Twilio-Signature": self.sign(url, params)}
                target = url.replace(self.public_base_url, self.gateway_url, 1)
                async with aiohttp.ClientSession() as http:
                    async with http.post(target, data=params, headers=headers) as resp:
                        self.callbacks.append((resp.status, params))

        task = asyncio.ensure_future(report())
        self._callback_tasks.add(task)
        task.add_done_callback(self._callback_tasks.discard)

    async def wait_for_callbacks(self, count: int, *, timeout_s: float = 5.0
                                 ) -> list[tuple[int, dict[str, str]]]:
        await wait_until(lambda: len(self.callbacks) >= count, timeout_s=timeout_s,
                         what=f"{count} status callbacks (have {len(self.callbacks)})")
        return list(self.callbacks)

    # --- webhooks to the gateway ----------------------------------------------------------
    def sign(self, url: str, params: Mapping[str, str]) -> str:
        return str(RequestValidator(self.auth_token).compute_signature(url, dict(params)))

    def inbound_params(self, *, sender: str, body: str, sid: str,
                       media: Sequence[tuple[str, str]] = (),
                       extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The form fields of Twilio's incoming-message webhook."""
        params = {
            "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": str(len(media)),
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
            "FromCity": "", "Body": body, "FromCountry": "GB", "To": FROM_NUMBER,
            "MessagingServiceSid": "", "ToZip": "", "NumSegments": "1", "MessageSid": sid,
            "AccountSid": self.account_sid, "From": sender, "ApiVersion": "2010-04-01",
        }
        for i, (url, mime_type) in enumerate(media):
            params[f"MediaUrl{i}"] = url
            params[f"MediaContentType{i}"] = mime_type
        params.update(extra or {})
        return params

    async def post_webhook(self, gateway_url: str, params: Mapping[str, str], *,
                           path: str = "/sms/twilio", signature: str | None = None,
                           sign_url: str | None = None) -> tuple[int, str, str]:
        """POST a webhook as Twilio does: signed against the PUBLIC url (unless `sign_url` or
        `signature` say otherwise; signature "" sends no header). Returns status, content type
        and body."""
        if signature is None:
            signature = self.sign(sign_url or self.public_base_url + path, params)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        async with aiohttp.ClientSession() as http:
            async with http.post(gateway_url + path, data=dict(params), headers=headers) as resp:
                return resp.status, resp.content_type, await resp.text()

    async def whatsapp(self, gateway_url: str, *, sender: str, body: str, sid: str,
                       button: tuple[str, str] | None = None,
                       media: Sequence[tuple[str, str]] = (),
                       extra: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """A customer writes on WhatsApp (sender: their E.164 number; button: the payload and
        text of a quick reply they tapped); their 24-hour window starts again."""
        self.customer_wrote[sender] = self.clock()
        params = self.inbound_params(sender=f"whatsapp:{sender}", body=body, sid=sid, media=media)
        for name in ("ToCountry", "ToState", "ToCity", "ToZip", "FromZip", "FromState",
                     "FromCity", "FromCountry", "SmsStatus"):
            params.pop(name, None)  # WhatsApp webhooks carry no geography
        params.update({"To": WHATSAPP_FROM, "ProfileName": "Sam", "WaId": sender.lstrip("+"),
                       "MessageType": "button" if button else ("image" if media else "text")})
        if button:
            params["ButtonPayload"], params["ButtonText"] = button
        params.update(extra or {})
        return await self.post_webhook(gateway_url, params, path="/whatsapp/twilio")

    async def text(self, gateway_url: str, *, sender: str, body: str, sid: str,
                   media: Sequence[tuple[str, str]] = (),
                   extra: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """A customer texts the number: Twilio calls the gateway's webhook."""
        params = self.inbound_params(sender=sender, body=body, sid=sid, media=media, extra=extra)
        return await self.post_webhook(gateway_url, params)


def _error(status: int, code: int, message: str, *,
           headers: Mapping[str, str] | None = None) -> web.Response:
    body = {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers=dict(headers or {}))


async def wait_until(condition: Callable[[], bool], *, timeout_s: float = 5.0,
                     what: str = "condition") -> None:
    """Poll a cheap condition until it holds; fail with `what` after timeout_s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)
