"""The WhatsApp channel, through Twilio's WhatsApp messaging (the Messages resource with
`whatsapp:+...` addresses; channels/twilio_messaging.py, shared with SMS).

Inbound: Twilio POSTs each message to PUBLIC_BASE_URL + /whatsapp/twilio, signed like an SMS
webhook (X-Twilio-Signature over the public URL and the form). It is acknowledged with an empty
TwiML response once the intake has it; replies go out later through the REST API. A tapped quick
reply arrives as ButtonPayload/ButtonText and counts as the option only if the bot offered that
payload; a number ("2") picks one of the numbered options, as on SMS. Media gets the gateway's
text-only answer. STOP, START and HELP are handled here (Twilio does not do it for WhatsApp), and
confirmed: nothing is sent to an opted-out customer until START (a reply is reported undelivered).

The 24-hour customer-service window: a free-form reply can be delivered only within 24 hours of
the customer's last message (the channel's `reply_window_s`, which the console and the Slack
inbox show agents). Outside it, `deliver` sends nothing free-form: with
TWILIO_WHATSAPP_TEMPLATE_SID set it sends that approved template (by content SID, once per closed
window: "we have an update, write to us to continue") and still reports the reply undelivered;
without one it reports it undelivered. Twilio accepts a free-form send it cannot deliver and says so later, on
the status callback (error 63016, or any other failure): every message asks for one at
/whatsapp/twilio/status, which is signed like the webhook, and a failure is recorded in the
transcript, where agents see it.

WhatsApp shows emoji and curly quotes at no extra cost, so the text is sent as written; buttons are
numbered at the end of the turn (free-form messages carry none of their own; quick replies need an
approved template), and an agent's words are labelled on every part, as on SMS.
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
                              InboundMessage, Intake, OutboundMessage, SettingsError)
from bot.redaction import mask_id
from channels import twilio_messaging as twilio
from channels.outbound import RetryPolicy, send_with_retry
from channels.twilio_messaging import (BODY_LIMIT, OptOuts, TwilioAccount, TwilioMessaging,
                                       TwilioRefused, twiml)

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/whatsapp/twilio"
STATUS_PATH = "/whatsapp/twilio/status"
REQUIRED_ENV = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL",
                "TWILIO_WHATSAPP_FROM")
WINDOW_S = 24 * 3600
PREFIX = "whatsapp:"
FACTS = ChannelFacts(name="whatsapp", label="WhatsApp", customer_noun="WhatsApp customer",
                     customer_id=CustomerIdKind.PHONE,
                     icon="M4.5 19.5l1.1-3.6A8 8 0 1 1 8.4 18.6zM9 8.5c0 3.6 2.9 6.5 6.5 6.5"
                          "l1-1.6-2-1-1 1c-1.2-.5-2.4-1.7-2.9-2.9l1-1-1-2L9 8.5z",
                     max_text_chars=BODY_LIMIT, reply_window_s=WINDOW_S)
# Fewer than Twilio's SMS opt-out words: "cancel" on its own cancels a waiting handoff here, and
# "end" or "quit" are ordinary words in a chat (Twilio enforces none of them on WhatsApp).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE"})
TEMPLATE_SENT_FOR = "template_sent_for"  # channel data: the customer message it answered
TWILIO_OUTSIDE_WINDOW = 63016  # "Outside messaging window"

STOP_REPLY = ("You won't get any more messages from our support assistant. Send START if you "
              "change your mind.")
START_REPLY = ("You're subscribed to our support assistant again. Write your question any time. "
               "Send HELP for help, STOP to stop messages.")
HELP_REPLY = ("Support assistant: write your question (for example \"where is my order\") and an "
              "automated assistant answers; write AGENT to reach a person. Send STOP to stop "
              "messages.")
OUTSIDE_WINDOW = ("not sent: WhatsApp allows free-form replies only within 24 hours of the "
                  "customer's last message")


@dataclass(frozen=True)
class WhatsAppConfig:
    account: TwilioAccount
    sender: str  # whatsapp:+14155238886
    template_sid: str | None = None  # an approved template for outside the 24-hour window

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WhatsAppConfig:
        raw = env["TWILIO_WHATSAPP_FROM"].strip()
        number = twilio.e164(raw.removeprefix(PREFIX))
        if number is None:
            raise SettingsError("TWILIO_WHATSAPP_FROM must be the WhatsApp sender's number, like "
                                f"whatsapp:+14155238886; got {raw!r}")
        template = env.get("TWILIO_WHATSAPP_TEMPLATE_SID") or None
        if template is not None and not (template.startswith("HX") and len(template) == 34):
            raise SettingsError("TWILIO_WHATSAPP_TEMPLATE_SID must be a content SID (HX followed "
                                f"by 32 characters); got {template!r}")
        return cls(account=TwilioAccount.from_env(env), sender=PREFIX + number,
                   template_sid=template)


def build(intake: Intake, env: Mapping[str, str]) -> WhatsAppChannel:
    return WhatsAppChannel(intake, WhatsAppConfig.from_env(env), retry=RetryPolicy.from_env(env))


class WhatsAppChannel:
    name = FACTS.name
    facts = FACTS

    def __init__(self, intake: Intake, config: WhatsAppConfig, *,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self._intake = intake
        self._config = config
        self._retry = retry
        self._twilio = TwilioMessaging(config.account)
        # Confirmed by us: Twilio does not handle opt-outs on WhatsApp (the customer just
        # wrote, so the confirmation is inside the window).
        self._opt_outs = OptOuts(intake, what="whatsapp", replies={
            "STOP": STOP_REPLY, "START": START_REPLY, "HELP": HELP_REPLY})

    def mount(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.router.add_post(STATUS_PATH, self._status)

    async def start(self) -> None:
        await self._twilio.start()
        log.info("whatsapp: webhook %s%s, replies from %s via %s%s", self._twilio.public_base_url,
                 WEBHOOK_PATH, self._config.sender, self._twilio.api_url,
                 "" if self._config.template_sid else "; no template for outside the 24 h window")

    async def close(self) -> None:
        await self._twilio.close()

    # --- inbound --------------------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        form = await self._twilio.signed_form(request, what="whatsapp")
        sid = twilio.field(form, "MessageSid")
        sender = _customer(twilio.field(form, "From"))
        if not sid or sender is None:
            log.warning("whatsapp webhook %s ignored: no MessageSid or From is not whatsapp:+E.164",
                        sid or "?")
            return twiml()
        conversation_id = PREFIX + sender
        body = twilio.field(form, "Body")
        try:
            state = await self._intake.view(conversation_id, acknowledging=True)
            opted_out = OptOuts.opted_out(state)
            keyword = twilio.opt_keyword(body, twilio.field(form, "OptOutType"),
                                         opted_out=opted_out, stop_words=STOP_WORDS)
            if keyword is not None:
                return twiml(await self._opt_outs.on_keyword(keyword, conversation_id, sender,
                                                             sid, opted_out=opted_out))
            if opted_out:
                log.info("whatsapp %s from opted-out %s not processed (waiting for START)", sid,
                         mask_id(conversation_id))
                return twiml()
            await self._intake.accept(_inbound(conversation_id, sender, sid, body, form,
                                               offered=state.offered_buttons))
        except REFUSED as exc:
            # Not acknowledged: Twilio retries (with connection overrides) or reports it.
            log.warning("whatsapp %s not accepted: %s", sid, exc)
            return web.Response(status=503, text="try again")
        return twiml()

    async def _status(self, request: web.Request) -> web.Response:
        """Twilio's later word on a message we sent: a failure is recorded, once (the intake
        keys it by the message's sid)."""
        return await twilio.status_callback(
            request, self._twilio, self._intake, what="whatsapp",
            conversation_of=lambda to: PREFIX + number if (number := _customer(to)) else None,
            describe=_why_undelivered)

    # --- delivery -------------------------------------------------------------------------
    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        if not messages:
            return  # end of a turn: no typing indicator to clear
        to = _address_of(conversation_id)
        state = await self._intake.view(conversation_id)
        if OptOuts.opted_out(state):
            # Raised, not dropped: an agent's reply must show as undelivered, not as sent.
            raise DeliveryFailed("not sent: the customer sent STOP (nothing goes out until START)")
        until = FACTS.reply_until(state.last_customer_message_at)
        if until is not None and until <= time.time():
            await self._outside_window(conversation_id, to, state.last_customer_message_at,
                                       state.channel_data.get(TEMPLATE_SENT_FOR))
        parts = twilio.bodies(messages)  # emoji and all: WhatsApp shows them
        for number, part in enumerate(parts, start=1):
            what = f"whatsapp to {mask_id(conversation_id)} (part {number}/{len(parts)})"
            sid = await send_with_retry(partial(self._send, to, body=part), what=what,
                                        policy=self._retry)
            log.info("%s sent as %s: %d chars", what, sid, len(part))

    async def _outside_window(self, conversation_id: str, to: str, last_wrote: float | None,
                              template_sent_for: object) -> None:
        if self._config.template_sid is None:
            raise DeliveryFailed(f"{OUTSIDE_WINDOW}; no template configured "
                                 "(TWILIO_WHATSAPP_TEMPLATE_SID)")
        if template_sent_for == last_wrote:
            # One invitation per closed window: a claim notice, a reply and a rating question
            # after it would each send another.
            raise DeliveryFailed(f"{OUTSIDE_WINDOW}; the template inviting them to write was "
                                 "sent already")
        await send_with_retry(partial(self._send, to, content_sid=self._config.template_sid),
                              what=f"whatsapp template to {mask_id(conversation_id)}",
                              policy=self._retry)
        await self._intake.keep_channel_data(conversation_id, {TEMPLATE_SENT_FOR: last_wrote})
        raise DeliveryFailed(f"{OUTSIDE_WINDOW}; the template inviting them to write sent instead")

    async def _send(self, to: str, *, body: str | None = None,
                    content_sid: str | None = None) -> str:
        params = {"to": to, "from_": self._config.sender,
                  "status_callback": self._twilio.public_base_url + STATUS_PATH}
        if content_sid is not None:
            params["content_sid"] = content_sid
        else:
            params["body"] = body or ""
        try:
            return await self._twilio.create(**params)
        except TwilioRefused as exc:
            log.error("whatsapp send to %s refused: %s", mask_id(to), exc)
            raise


# --- helpers ----------------------------------------------------------------------------------
def _why_undelivered(failed: twilio.FailedMessage) -> str:
    if failed.error_code == str(TWILIO_OUTSIDE_WINDOW):
        return OUTSIDE_WINDOW
    return f"WhatsApp reported it {failed.status} (Twilio error {failed.error_code})"


def _customer(address: str) -> str | None:
    """The E.164 number of a whatsapp:+... address, or None."""
    return twilio.e164(address.removeprefix(PREFIX)) if address.startswith(PREFIX) else None


def _address_of(conversation_id: str) -> str:
    number = _customer(conversation_id)
    if number is None:
        raise DeliveryFailed(f"{conversation_id!r} is not a WhatsApp conversation id")
    return PREFIX + number


def _inbound(conversation_id: str, sender: str, sid: str, body: str,
             form: MultiDict[str], *, offered: Sequence[Mapping[str, str]]) -> InboundMessage:
    payload, title = twilio.field(form, "ButtonPayload"), twilio.field(form, "ButtonText")
    if payload:
        # A tapped quick reply: the option only if the bot offered that payload (the core checks
        # again); otherwise its text, like anything typed.
        text, button_payload = title or body, payload
    else:
        chosen = twilio.chosen_button(body, offered)
        text = chosen.title if chosen else body
        button_payload = chosen.payload if chosen else None
    return InboundMessage(channel=FACTS.name, conversation_id=conversation_id,
                          customer_id=sender, text=text, platform_message_id=sid,
                          button_payload=button_payload, attachments=twilio.attachments(form),
                          received_at=time.time())
