"""The conversation engine: per-conversation ordered processing of inbound messages, the Rasa round
trip, and delivery of replies through the customer's own channel.

Guarantees:
- a platform message id is processed once (idempotency store; survives restarts with Redis);
- messages of one conversation are handled in arrival order, one at a time; different
  conversations run in parallel;
- when Rasa is unreachable the customer is told honestly, the message is kept in the pending store
  and answered when Rasa is back;
- free text can never inject a Rasa intent; button payloads are honoured only if we offered them.
"""

from __future__ import annotations

import asyncio
import time
import logging
from typing import Any, Sequence

from bot.cases import CaseDesk, rating_of
from bot.customers import CustomerDirectory
from bot.escalation import EscalationPolicy, Trigger
from bot.identifiers import parse_contact
from bot.sentiment import score as sentiment_score
from bot.handoff import package_from_transcript
from bot.messages import InboundMessage, OutboundMessage
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.redaction import redact
from bot.settings import Settings
from bot.stores import Stores
from bot.text_cleaning import clean, is_handoff_keyword
from channels.base import Channel, DeliveryFailed

log = logging.getLogger(__name__)

DEDUPE_TTL_S = 7 * 24 * 3600
HANDOFF_PAYLOAD = "/human_handoff"

OUTAGE_REPLY = ("Sorry, I'm having trouble on my side right now and can't answer yet. I've kept "
                "your message and will reply here as soon as I'm back. If it's urgent, type "
                "\"agent\" to reach a person.")
TOO_LONG_REPLY = ("That's a long message! I can read up to {limit:,} characters at a time. Could "
                  "you send the key part, like your order number and what went wrong?")
MEDIA_ONLY_REPLY = ("I can only read text messages for now, so I couldn't open that. Could you "
                    "describe it in words? If you need to share a photo, type \"agent\" and a "
                    "person can help.")
MEDIA_WITH_TEXT_NOTE = ("(I can't open attachments, only read text, so I've answered your words. "
                        "Type \"agent\" if a person needs to see the file.)")
EMPTY_REPLY = "I didn't catch any text there. How can I help?"
HANDOFF_WHILE_DOWN = ("I've passed your request to our support team (case {case_id}). A person "
                      "will reply right here.")


class ConversationEngine:
    def __init__(self, *, settings: Settings, stores: Stores, rasa: RasaClient,
                 desk: CaseDesk, escalation: EscalationPolicy | None = None,
                 customers: CustomerDirectory | None = None) -> None:
        self._settings = settings
        self._stores = stores
        self._rasa = rasa
        self._desk = desk
        self._escalation = escalation or EscalationPolicy()
        self._customers = customers
        self._channels: dict[str, Channel] = {}
        self._queues: dict[str, asyncio.Queue[tuple[InboundMessage, bool]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._retry_task: asyncio.Task[None] | None = None
        self._answered: set[str] = set()
        desk.connect(self.reply)

    # --- wiring ---------------------------------------------------------------------------
    def register(self, channel: Channel) -> None:
        self._channels[channel.name] = channel

    @property
    def stores(self) -> Stores:
        return self._stores

    @property
    def settings(self) -> Settings:
        return self._settings

    def start(self) -> None:
        self._retry_task = asyncio.create_task(self._retry_pending_forever())

    async def close(self) -> None:
        tasks = [t for t in (self._retry_task, *self._workers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- intake ---------------------------------------------------------------------------
    async def accept(self, message: InboundMessage) -> bool:
        """Queue a message for processing; False when this platform message was seen before."""
        key = f"in:{message.channel}:{message.platform_message_id}"
        if not await self._stores.idempotency.first_seen(key, ttl_s=DEDUPE_TTL_S):
            log.info("duplicate %s message %s ignored", message.channel, message.platform_message_id)
            return False
        self._enqueue(message, retry=False)
        return True

    def _enqueue(self, message: InboundMessage, *, retry: bool) -> None:
        queue = self._queues.setdefault(message.conversation_id, asyncio.Queue())
        queue.put_nowait((message, retry))
        worker = self._workers.get(message.conversation_id)
        if worker is None or worker.done():
            self._workers[message.conversation_id] = asyncio.create_task(
                self._work(message.conversation_id), name=f"conversation {message.conversation_id}"
            )

    async def _work(self, conversation_id: str) -> None:
        queue = self._queues[conversation_id]
        while not queue.empty():
            message, retry = queue.get_nowait()
            self._answered.discard(conversation_id)
            try:
                async with self._stores.locks.hold(conversation_id):
                    await self._process(message, retry=retry)
            except Exception:  # one bad message must not stop the conversation's queue
                log.exception("processing message %s of %s failed", message.platform_message_id,
                              conversation_id)
            finally:
                queue.task_done()
            if conversation_id not in self._answered:
                # Nothing to say (kept during an outage, or Rasa chose silence): still end the
                # turn so channels can clear their typing indicators.
                await self._deliver(conversation_id, [])
        self._queues.pop(conversation_id, None)
        self._workers.pop(conversation_id, None)

    async def idle(self) -> None:
        """Wait until every queued message has been processed (used by tests and shutdown)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    # --- processing -----------------------------------------------------------------------
    async def _process(self, message: InboundMessage, *, retry: bool) -> None:
        cid = message.conversation_id
        if not retry:
            await self._record(cid, "customer", message.text, message_id=message.platform_message_id)
        state = await self._stores.conversations.update(
            cid, {"channel": message.channel, "customer_id": message.customer_id,
                  "last_seen": message.received_at})

        text = clean(message.text)
        if len(message.text) > self._settings.max_message_chars:
            await self.reply(cid, [OutboundMessage(
                text=TOO_LONG_REPLY.format(limit=self._settings.max_message_chars))])
            return
        if not text and message.attachments:
            await self.reply(cid, [OutboundMessage(text=MEDIA_ONLY_REPLY)])
            return
        rasa_text = self._rasa_text(message, text, state)
        if not rasa_text:
            await self.reply(cid, [OutboundMessage(text=EMPTY_REPLY)])
            return
        case = await self._desk.open_case_of(cid)
        if case is not None:
            # A person has (or will have) this conversation: the bot stays silent.
            await self._desk.customer_message(case, message.text)
            return
        if state.get("awaiting_rating"):
            rating = rating_of(rasa_text)
            if rating is not None:
                await self._desk.rate(cid, state["awaiting_rating"], rating)
                return
            await self._stores.conversations.update(cid, {"awaiting_rating": None})
        trigger = None
        if not retry and message.button_payload is None and rasa_text != HANDOFF_PAYLOAD:
            # Kept messages were evaluated when they arrived (an escalation then opened a case).
            trigger = await self._escalation_trigger(message, text, state)
        if not retry and not await self._catch_up(cid):
            # Earlier messages are still waiting for Rasa: keep this one behind them, in order.
            if rasa_text == HANDOFF_PAYLOAD:
                await self._handoff_without_rasa(message)
            else:
                await self._stores.pending.add(message)
            return

        metadata = {"channel": message.channel, "customer_id": message.customer_id,
                    "conversation_id": cid}
        try:
            if trigger is not None:
                log.info("escalating %s: %s", cid, trigger.detail)
                replies = await self._rasa.escalate(
                    conversation_id=cid, text=text, metadata=metadata,
                    trigger={**trigger.to_dict(), "message": text})
            else:
                replies = await self._rasa.send(conversation_id=cid, text=rasa_text,
                                                metadata=metadata)
        except RasaUnavailable as exc:
            await self._on_rasa_down(message, rasa_text, state, reason=str(exc), trigger=trigger)
            return
        if retry:
            await self._stores.pending.remove(cid, message.platform_message_id)
        if state.get("outage_notified"):
            await self._stores.conversations.update(cid, {"outage_notified": False})
        if message.attachments:
            replies = [*replies, OutboundMessage(text=MEDIA_WITH_TEXT_NOTE)]
        await self.reply(cid, replies)

    async def _escalation_trigger(self, message: InboundMessage, text: str,
                                  state: dict[str, Any]) -> Trigger | None:
        """Sentiment and escalation.yml rules, evaluated before the bot answers."""
        scores = [*state.get("sentiment_scores", []), sentiment_score(text)][-10:]
        fields: dict[str, Any] = {"sentiment_scores": scores}
        vip = bool(state.get("vip"))
        if self._escalation.needs_vip and self._customers is not None and not vip:
            contact = parse_contact(text) or (
                message.customer_id if message.channel == "sms" else None)
            if contact and contact != state.get("vip_checked"):
                vip = bool(await self._customers.is_vip(contact))
                fields.update(vip=vip, vip_checked=contact)
        intent, confidence = None, 0.0
        if self._escalation.needs_intent:
            try:
                parsed = await self._rasa.parse(text)
                intent = (parsed.get("intent") or {}).get("name")
                confidence = float((parsed.get("intent") or {}).get("confidence") or 0.0)
            except RasaUnavailable:
                pass  # the main call below reports the outage
        await self._stores.conversations.update(message.conversation_id, fields)
        return self._escalation.evaluate(text=text, scores=scores, intent=intent,
                                         confidence=confidence, vip=vip)

    async def _catch_up(self, conversation_id: str) -> bool:
        """Answer this conversation's kept messages first; False if some are still waiting."""
        for kept in await self._stores.pending.peek(conversation_id):
            await self._process(kept, retry=True)
        return not await self._stores.pending.peek(conversation_id)

    def _rasa_text(self, message: InboundMessage, text: str, state: dict[str, Any]) -> str:
        offered = {b["payload"] for b in state.get("offered_buttons", [])}
        if message.button_payload is not None:
            if message.button_payload in offered:
                return message.button_payload
            log.info("button payload not offered in %s; treated as text", message.conversation_id)
        if is_handoff_keyword(text):
            return HANDOFF_PAYLOAD
        return text

    async def _on_rasa_down(self, message: InboundMessage, rasa_text: str,
                            state: dict[str, Any], *, reason: str,
                            trigger: Trigger | None = None) -> None:
        cid = message.conversation_id
        log.warning("Rasa unavailable for %s: %s; message kept", cid, reason)
        if rasa_text == HANDOFF_PAYLOAD or trigger is not None:
            await self._handoff_without_rasa(message, trigger)
            return
        await self._stores.pending.add(message)
        if not state.get("outage_notified"):
            await self._stores.conversations.update(cid, {"outage_notified": True})
            await self.reply(cid, [OutboundMessage(text=OUTAGE_REPLY, role="system")])

    async def _handoff_without_rasa(self, message: InboundMessage,
                                    trigger: Trigger | None = None) -> None:
        cid = message.conversation_id
        transcript = await self._stores.transcripts.recent(cid, limit=self._settings.transcript_limit)
        kind, detail = ((trigger.kind, f"{trigger.detail}; the assistant was unavailable")
                        if trigger else ("backend_unavailable",
                                         "customer asked for a person while the assistant was "
                                         "unavailable"))
        package = package_from_transcript(
            conversation_id=cid, channel=message.channel, customer_id=message.customer_id,
            transcript=transcript, trigger_kind=kind, trigger_detail=detail)
        receipt = await self._desk.open_case(package)
        await self.reply(cid, [OutboundMessage(
            text=HANDOFF_WHILE_DOWN.format(case_id=receipt["case_id"]), role="system")])

    # --- output ---------------------------------------------------------------------------
    async def reply(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        if not messages:
            return
        offered = [b.to_dict() for m in messages for b in m.buttons]
        await self._stores.conversations.update(conversation_id, {"offered_buttons": offered})
        for m in messages:
            await self._record(conversation_id, m.role, m.text, message_id=m.message_id,
                               buttons=[b.to_dict() for b in m.buttons], image_url=m.image_url)
        self._answered.add(conversation_id)
        await self._deliver(conversation_id, messages)

    async def _deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        state = await self._stores.conversations.get(conversation_id)
        channel = self._channels.get(state.get("channel", ""))
        if channel is None:
            log.error("no channel %r to deliver to %s", state.get("channel"), conversation_id)
            return
        try:
            await channel.deliver(conversation_id, messages)
        except DeliveryFailed as exc:
            # Kept in the transcript; recorded so it is visible, never dropped silently.
            log.error("delivery to %s failed: %s", conversation_id, exc)
            if messages:
                await self._record(conversation_id, "system", f"undelivered: {exc}",
                                   message_id=messages[-1].message_id + ":undelivered")

    async def _record(self, conversation_id: str, role: str, text: str, *, message_id: str,
                      buttons: list[dict[str, str]] | None = None,
                      image_url: str | None = None) -> None:
        entry: dict[str, Any] = {"id": message_id, "role": role,
                                 "text": redact(text, keep_contact=True), "ts": time.time()}
        if buttons:
            entry["buttons"] = buttons
        if image_url:
            entry["image_url"] = image_url
        await self._stores.transcripts.append(conversation_id, entry,
                                              limit=self._settings.transcript_limit)

    # --- outage recovery ------------------------------------------------------------------
    async def retry_pending_once(self) -> int:
        """Re-queue kept messages if Rasa answers again; returns how many were re-queued."""
        conversations = await self._stores.pending.conversations()
        if not conversations or not await self._rasa.is_ready():
            return 0
        count = 0
        for cid in conversations:
            if cid in self._workers:  # its worker will be re-tried on the next round
                continue
            for message in await self._stores.pending.peek(cid):
                self._enqueue(message, retry=True)
                count += 1
        return count

    async def _retry_pending_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.pending_retry_interval_s)
            try:
                await self.retry_pending_once()
            except Exception:  # keep retrying; a store hiccup must not end recovery
                log.exception("retrying pending messages failed")
