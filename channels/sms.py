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

import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Mapping, Sequence

from aiohttp import web
from multidict import MultiDict

from bot.channel_port import (REFUSED, ChannelFacts, CustomerIdKind, DeliveryFailed,
                              InboundMessage, Intake, OutboundMessage, SettingsError,
                              TextEncoding)
from bot.redaction import mask_id
from channels import twilio_messaging as twilio
from channels.outbound import RetryPolicy, send_with_retry, sms_encoding, sms_segments, sms_text
from channels.twilio_messaging import (BODY_LIMIT, MAX_BODY_BYTES, MediaKind, OptOuts,
                                       TwilioAccount, TwilioMessaging, TwilioRefused, twiml)

log = logging.getLogger(__name__)

__all__ = ["FACTS", "MAX_BODY_BYTES", "MediaKind", "REQUIRED_ENV", "SENDER_ENV", "WEBHOOK_PATH",
           "SmsChannel", "build"]

WEBHOOK_PATH = "/sms/twilio"
STATUS_PATH = "/sms/twilio/status"  # every send asks for its status callback here
REQUIRED_ENV = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL")
# Who the replies come from: without either, the account is used for other channels only.
SENDER_ENV = ("TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID")
FACTS = ChannelFacts(name="sms", label="SMS", customer_noun="SMS customer",
                     customer_id=CustomerIdKind.PHONE,
                     icon="M8.5 2.5h7A2.5 2.5 0 0 1 18 5v14a2.5 2.5 0 0 1-2.5 2.5h-7A2.5 2.5 0 0 1 6 19V5"
                          "a2.5 2.5 0 0 1 2.5-2.5zM10.5 18.5h3",
                     max_text_chars=BODY_LIMIT,
                     max_buttons=None, encoding=TextEncoding.GSM7_WHERE_POSSIBLE)

START_REPLY = ("You're subscribed to our support assistant again. Text your question any time. "
               "Reply HELP for help, STOP to unsubscribe.")
HELP_REPLY = ("Support assistant: text your question (for example \"where is my order\") and an "
              "automated assistant answers; text AGENT to reach a person. Reply STOP to "
              "unsubscribe. Msg & data rates may apply.")


@dataclass(frozen=True)
class SmsConfig:
    account: TwilioAccount
    from_number: str | None = None
    messaging_service_sid: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmsConfig:
        from_number = env.get("TWILIO_FROM_NUMBER") or None
        service = env.get("TWILIO_MESSAGING_SERVICE_SID") or None
        if from_number is None and service is None:
            raise SettingsError("SMS channel: set TWILIO_FROM_NUMBER or "
                                "TWILIO_MESSAGING_SERVICE_SID (who the replies come from)")
        return cls(account=TwilioAccount.from_env(env), from_number=from_number,
                   messaging_service_sid=service)


def build(intake: Intake, env: Mapping[str, str]) -> SmsChannel:
    return SmsChannel(intake, SmsConfig.from_env(env), retry=RetryPolicy.from_env(env))


class SmsChannel:
    name = FACTS.name
    facts = FACTS

    def __init__(self, intake: Intake, config: SmsConfig, *,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self._intake = intake
        self._retry = retry
        self._config = config
        self._twilio = TwilioMessaging(config.account)
        # Twilio confirms STOP itself; see the module docstring
        self._opt_outs = OptOuts(intake, what="sms", replies={"START": START_REPLY,
                                                              "HELP": HELP_REPLY})

    def mount(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.router.add_post(STATUS_PATH, self._status)

    async def start(self) -> None:
        await self._twilio.start()
        sender = self._config.messaging_service_sid or self._config.from_number
        log.info("sms: webhook %s%s, replies from %s via %s", self._twilio.public_base_url,
                 WEBHOOK_PATH, sender, self._twilio.api_url)

    async def close(self) -> None:
        await self._twilio.close()

    # --- inbound --------------------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        form = await self._twilio.signed_form(request, what="sms")
        sid = twilio.field(form, "MessageSid") or twilio.field(form, "SmsMessageSid")
        sender = twilio.e164(twilio.field(form, "From"))
        if not sid or sender is None:
            # Not a text we can answer (e.g. a WhatsApp or short-code sender): acknowledged so
            # Twilio does not report a webhook error, but not processed.
            log.warning("sms webhook %s ignored: no MessageSid or From is not an E.164 number",
                        sid or "?")
            return twiml()
        conversation_id = f"sms:{sender}"
        body = twilio.field(form, "Body")
        try:
            state = await self._intake.view(conversation_id, acknowledging=True)
            opted_out = OptOuts.opted_out(state)
            keyword = twilio.opt_keyword(body, twilio.field(form, "OptOutType"),
                                         opted_out=opted_out)
            if keyword is not None:
                return twiml(await self._opt_outs.on_keyword(keyword, conversation_id, sender,
                                                             sid, opted_out=opted_out))
            if opted_out:
                # We could not answer anyway: nothing may be sent until the customer texts START.
                log.info("sms %s from opted-out %s not processed (waiting for START)",
                         sid, mask_id(conversation_id))
                return twiml()
            message = _inbound(conversation_id, sender, sid, body, form,
                               offered=state.offered_buttons)
            await self._intake.accept(message)
        except REFUSED as exc:
            # Not acknowledged: Twilio retries (with connection overrides, docs/channels/sms.md)
            # or reports the failure; the message is not silently taken.
            log.warning("sms %s not accepted: %s", sid, exc)
            return web.Response(status=503, text="try again")
        return twiml()

    async def _status(self, request: web.Request) -> web.Response:
        """The carrier's later word on a text we sent (30003 unreachable, 30005 unknown number,
        30007 filtered, ...): a failure is recorded, once."""
        return await twilio.status_callback(
            request, self._twilio, self._intake, what="sms",
            conversation_of=lambda to: f"sms:{number}" if (number := twilio.e164(to)) else None,
            describe=lambda failed: (f"the carrier reported it {failed.status} (Twilio error "
                                     f"{failed.error_code})"))

    # --- delivery -------------------------------------------------------------------------
    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        if not messages:
            return  # end of a turn: SMS has no typing indicator to clear
        to = _number_of(conversation_id)
        state = await self._intake.view(conversation_id)
        if OptOuts.opted_out(state):
            log.info("sms: %d repl%s to %s dropped: the number opted out (STOP)", len(messages),
                     "y" if len(messages) == 1 else "ies", mask_id(conversation_id))
            return
        parts = twilio.bodies(messages, convert=sms_text)
        for number, part in enumerate(parts, start=1):
            what = f"sms to {mask_id(conversation_id)} (part {number}/{len(parts)})"
            sid = await send_with_retry(partial(self._send, conversation_id, to, part), what=what,
                                        policy=self._retry)
            log.info("%s sent as %s: %d chars, %s, %d segment(s)", what, sid, len(part),
                     sms_encoding(part), sms_segments(part))

    async def _send(self, conversation_id: str, to: str, body: str) -> str:
        sender: dict[str, str] = (
            {"messaging_service_sid": self._config.messaging_service_sid}
            if self._config.messaging_service_sid else {"from_": self._config.from_number or ""})
        try:
            return await self._twilio.create(
                to=to, body=body, status_callback=self._twilio.public_base_url + STATUS_PATH,
                **sender)
        except TwilioRefused as exc:
            if exc.code == twilio.TWILIO_UNSUBSCRIBED:
                # The carrier/Twilio says this number opted out (perhaps via another of our
                # numbers): remember it, so we stop trying until the customer texts START.
                await self._opt_outs.set(conversation_id, to, True)
            raise


# --- helpers ----------------------------------------------------------------------------------
def _number_of(conversation_id: str) -> str:
    number = twilio.e164(conversation_id.removeprefix("sms:"))
    if not conversation_id.startswith("sms:") or number is None:
        raise DeliveryFailed(f"{conversation_id!r} is not an SMS conversation id")
    return number


def _inbound(conversation_id: str, sender: str, sid: str, body: str,
             form: MultiDict[str], *, offered: Sequence[Mapping[str, str]]) -> InboundMessage:
    chosen = twilio.chosen_button(body, offered)
    return InboundMessage(
        channel=FACTS.name,
        conversation_id=conversation_id,
        customer_id=sender,
        text=chosen.title if chosen else body,
        platform_message_id=sid,
        button_payload=chosen.payload if chosen else None,
        attachments=twilio.attachments(form),
        received_at=time.time(),
    )
