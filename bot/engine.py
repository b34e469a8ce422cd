"""The conversation engine: durable intake, per-conversation ordered processing, the Rasa round
trip, and delivery of replies through the customer's own channel.

Guarantees:
- `accept` returns only once the message and its idempotency mark are durable (the intake
  journal), so a channel acknowledges its platform only for what can no longer be lost, and a
  platform's retry or a duplicate is refused as such (across restarts and instances);
- a conversation's messages are handled one at a time, in arrival order, from the journal (the
  drain loop, bot/drain.py); an entry leaves the journal only when its replies were delivered or
  recorded as undeliverable. A crash resumes from the entry's recorded progress; a message that
  may have reached Rasa is looked up in Rasa's tracker (by the id in its metadata) before it is
  sent again, so Rasa never runs a second turn for it;
- when Rasa is unreachable the customer is told honestly (once) and their messages stay in the
  journal, answered in order when Rasa is back; a request for a person still opens a case;
- nothing a customer types reaches Rasa as an intent (bot/rasa_input.py), and button payloads
  are honoured only if we offered them;
- Rasa's tracker is paused and resumed only outside a Rasa turn, by the conversation's worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import random
import time
from enum import Enum
from typing import Any, Callable, Mapping, Sequence

from analytics.records import Kind
from bot.analytics_events import GatewayEvents
from bot.cases import RATING_BUTTONS, RATING_THANKS, CaseDesk, rating_of
from bot.channel_facts import ChannelFacts, facts_of
from bot.channel_intake import ChannelIntake, undelivered_id
from bot.channel_port import Channel, DeliveryFailed, IntakeClosed
from bot.customers import CustomerDirectory
from bot.directives import Directive
from bot.drain import STORE_ERRORS, Drainer
from bot.erasure import Erasure
from bot.escalation import EscalationPolicy, Trigger
from bot.handoff_package import package_from_transcript
from bot.identifiers import parse_contact
from bot.messages import InboundMessage, OutboundMessage
from bot.rasa_client import RasaTurn, RasaUnavailable
from bot.rasa_pool import RasaPool
from bot.rasa_input import CUSTOMER_TEXT_KEY, RasaText
from bot.redaction import mask_id, minimise, redact
from bot.log_format import about
from bot.metrics import GatewayMetrics
from bot.sentiment import score as sentiment_score
from bot.sentiment import warm as warm_sentiment
from bot.settings import Settings
from bot.state import ConversationState
from bot.stores import JournalEntry, Progress, Stores
from bot.text_cleaning import clean, is_handoff_keyword

log = logging.getLogger(__name__)

HANDOFF_PAYLOAD = "/human_handoff"
# awaiting_rating's value while the customer rates the bot (otherwise it holds a case id).
BOT_RATING = "bot"
BOT_RATING_QUESTION = ("Before you go: how did I do? Please rate this chat from 1 (poor) to "
                       "5 (great).")
MAX_FAILURES = 3  # unexpected errors on one message before the customer is told and it is dropped
SECRET_PLACEHOLDER = "[one-time code]"

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
NO_ANSWER_REPLY = ("Sorry, something went wrong on my side and I couldn't finish that. Please try "
                   "again in a moment, or type \"agent\" to reach a person.")
FAILED_REPLY = ("Sorry, I couldn't process your last message because of a problem on my side. "
                "Could you send it again? Type \"agent\" to reach a person.")


class Outcome(Enum):
    DONE = "done"  # the entry is finished and gone from the journal
    WAIT = "wait"  # Rasa is away: this entry and everything after it wait (in order)


class ConversationEngine:
    def __init__(self, *, settings: Settings, stores: Stores, rasa: RasaPool,
                 desk: CaseDesk, escalation: EscalationPolicy | None = None,
                 customers: CustomerDirectory | None = None,
                 erasure: Erasure | None = None,
                 channel_facts: Mapping[str, ChannelFacts] | None = None,
                 metrics: GatewayMetrics | None = None,
                 analytics: GatewayEvents | None = None,
                 sample: Callable[[], float] = random.random) -> None:
        self._settings = settings
        self.metrics = metrics or GatewayMetrics()
        self._analytics = analytics
        self._sample = sample  # CSAT sampling after a goodbye (tests pass a fixed value)
        self._stores = stores
        self._rasa = rasa
        self._desk = desk
        self._escalation = escalation or EscalationPolicy()
        self._customers = customers
        self._erasure = erasure
        self._channels: dict[str, Channel] = {}
        # Every channel's, also those turned off: their journal entries are still answered.
        self._facts = dict(channel_facts or {})
        # A burst of webhooks (twenty in flight) starts as many drains; when all of them wrote
        # their message down at once, the event loop ran their bookkeeping between every step of
        # every acknowledgement (p99 50-90 ms instead of 20-35). Waiting here costs a drain
        # nothing: its message is durable already.
        self._recording = asyncio.Semaphore(max(1, settings.recording_concurrency))
        self._drainer = Drainer(stores, self._drain, rasa_ready=rasa.is_ready,
                                interval_s=settings.pending_retry_interval_s,
                                grace_s=settings.shutdown_grace_s,
                                also_pending=desk.rasa_control_pending)
        desk.connect(self.reply, self._drainer.schedule)

    # --- wiring ---------------------------------------------------------------------------
    def intake_for(self, channel: str) -> ChannelIntake:
        """The core as the named channel sees it (bot/channel_port.py)."""
        return ChannelIntake(channel, self, self._stores, self._settings)

    def register(self, channel: Channel) -> None:
        self._channels[channel.name] = channel
        self._facts[channel.name] = channel.facts

    def _facts_of(self, channel: str) -> ChannelFacts:
        return facts_of(self._facts, channel)

    def _nlu_text(self, message: InboundMessage) -> str:
        """The message as NLU reads it: the channel's markup removed, then the core's cleaning
        (the intent-injection filter, bot/rasa_input.py, comes after both)."""
        return clean(self._facts_of(message.channel).normalise(message.text))

    @property
    def stores(self) -> Stores:
        return self._stores

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def drainer(self) -> Drainer:
        return self._drainer

    async def start(self) -> None:
        # VADER reads its lexicon on first use (tens of ms of CPU): done here, not inside the
        # first turn, where it stalled every acknowledgement in flight.
        await asyncio.to_thread(warm_sentiment)
        await self._drainer.start()

    async def close(self) -> None:
        await self._drainer.stop()

    async def idle(self) -> None:
        """Wait until no conversation is being worked on (tests and benchmarks)."""
        await self._drainer.idle()

    # --- intake ---------------------------------------------------------------------------
    async def accept(self, message: InboundMessage) -> bool:
        """Record a message durably; False when this platform message was seen before. Raises
        IntakeClosed while shutting down, and a store error when the journal is unreachable:
        either way the channel must not acknowledge it."""
        if self._drainer.stopping:
            raise IntakeClosed("the gateway is shutting down")
        # Card numbers and passwords never enter the system: not the journal, not Rasa.
        message = dataclasses.replace(message, text=minimise(message.text))
        entry = await self._stores.journal.append(message, dedupe_key=dedupe_key(message))
        if entry is None:
            log.info("duplicate %s message %s ignored", message.channel,
                     mask_id(message.platform_message_id))
            self.metrics.duplicates.labels(message.channel).inc()
            return False
        self.metrics.messages.labels(message.channel).inc()
        # Handled here, at once; the work notice the append left lets another instance take
        # over if this one stops before it gets to it.
        self._drainer.schedule(message.conversation_id)
        return True

    # --- the drain loop -------------------------------------------------------------------
    async def _drain(self, conversation_id: str, wait: bool) -> None:
        with about(conversation_id=conversation_id):
            if wait:
                async with self._stores.locks.hold(conversation_id):
                    await self._drain_held(conversation_id)
                return
            async with self._stores.locks.try_hold(conversation_id) as held:
                if held:
                    await self._drain_held(conversation_id)

    async def _drain_held(self, cid: str) -> None:
        """One pass over the journal. What arrives meanwhile (a message, a pause or resume to
        apply) schedules the conversation again, so it needs no second read here: that read
        cost every message a round trip under the acknowledgements of a burst."""
        while not self._drainer.stopping:
            await self._apply_rasa_control(cid)
            blocked = False
            for entry in await self._stores.journal.entries(cid):
                if self._drainer.stopping:
                    return
                if not blocked:
                    blocked = await self._handle_safely(entry) is Outcome.WAIT
                elif await self._hold_back(entry):
                    break  # a case opened: the waiting messages go to it now, from the top
            else:
                return  # done, or blocked until the sweep finds Rasa answering

    async def _handle_safely(self, entry: JournalEntry) -> Outcome:
        try:
            return await self._handle(entry)
        except STORE_ERRORS:
            raise  # the drainer stops this conversation; the sweep comes back to it
        except Exception:
            failures = entry.failures + 1
            log.exception("message %s of %s failed (%d of %d)", entry.entry_id,
                          mask_id(entry.message.conversation_id), failures, MAX_FAILURES)
            if failures < MAX_FAILURES:
                await self._stores.journal.save(entry.advance(entry.progress, failures=failures))
                return Outcome.WAIT
            await self.reply(entry.message.conversation_id,
                             [OutboundMessage(text=FAILED_REPLY, role="system")])
            await self._stores.journal.remove(entry)
            return Outcome.DONE

    async def _handle(self, entry: JournalEntry) -> Outcome:
        if entry.progress is Progress.RECEIVED:
            entry = await self._record(entry)
        if entry.progress in (Progress.RECORDED, Progress.AT_RASA):
            if await self._route_without_rasa(entry):
                await self._stores.journal.remove(entry)
                return Outcome.DONE
            try:
                if entry.progress is Progress.AT_RASA:
                    # It may have reached Rasa before a crash or a timeout: look first.
                    turn = await self._recover_turn(entry)
                else:
                    entry = entry.advance(Progress.AT_RASA)
                    await self._stores.journal.save(entry)
                    turn = await self._ask_rasa(entry)
            except RasaUnavailable as exc:
                return await self._rasa_down(entry, reason=str(exc))
            entry = await self._answered(entry, turn)
        await self._deliver_answer(entry)
        await self._stores.journal.remove(entry)
        return Outcome.DONE

    async def _answered(self, entry: JournalEntry, turn: RasaTurn) -> JournalEntry:
        entry = entry.advance(Progress.ANSWERED, replies=turn.to_dicts())
        await self._stores.journal.save(entry)
        return entry

    # --- recording ------------------------------------------------------------------------
    async def _record(self, entry: JournalEntry) -> JournalEntry:
        """Into the transcript, with the escalation rules evaluated: RECORDED, or ANSWERED when
        the gateway answers by itself (too long, no text)."""
        message, cid = entry.message, entry.message.conversation_id
        # The message's transcript line and state take a slot; the escalation rules below may
        # call a backend or Rasa's NLU, and must not hold one while they wait.
        async with self._recording:
            state = await self._stores.conversations.update(
                cid, channel=message.channel, customer_id=message.customer_id,
                last_seen=message.received_at)
            secret = state.expects_secret
            await self._record_line(cid, "customer",
                                    SECRET_PLACEHOLDER if secret else message.text,
                                    message_id=message.platform_message_id)
            if secret:
                state = await self._stores.conversations.update(cid, expects_secret=False)
            text = self._nlu_text(message)
            immediate = None
            if len(message.text) > self._settings.max_message_chars:
                immediate = TOO_LONG_REPLY.format(limit=self._settings.max_message_chars)
            elif not text and message.attachments:
                immediate = MEDIA_ONLY_REPLY
            rasa_text = self._rasa_text(message, text, state)
            if immediate is None and not rasa_text.text:
                immediate = EMPTY_REPLY
            if immediate is not None:
                turn = RasaTurn((OutboundMessage(text=immediate),))
                entry = entry.advance(Progress.ANSWERED, replies=turn.to_dicts(), secret=secret)
                await self._stores.journal.save(entry)
                return entry
        trigger = None
        if not secret and not rasa_text.is_payload and not await self._desk.open_case_of(cid):
            trigger = await self._escalation_trigger(message, text, state)
        entry = entry.advance(Progress.RECORDED, rasa_text=rasa_text.text, secret=secret,
                              trigger=trigger.to_dict() if trigger else None)
        await self._stores.journal.save(entry)
        return entry

    def _rasa_text(self, message: InboundMessage, text: str,
                   state: ConversationState) -> RasaText:
        offered = {b.get("payload") for b in state.offered_buttons}
        if message.button_payload is not None:
            if message.button_payload in offered:
                return RasaText.offered_payload(message.button_payload)
            log.info("button payload not offered in %s; treated as text",
                     mask_id(message.conversation_id))
        if is_handoff_keyword(text):
            return RasaText.offered_payload(HANDOFF_PAYLOAD)  # our own payload, always allowed
        return RasaText.free_text(text)

    async def _escalation_trigger(self, message: InboundMessage, text: str,
                                  state: ConversationState) -> Trigger | None:
        """Sentiment and escalation.yml rules, evaluated before the bot answers."""
        scores = (*state.sentiment_scores, sentiment_score(text))[-10:]
        changes: dict[str, Any] = {"sentiment_scores": scores}
        vip = state.vip
        if self._escalation.needs_vip and self._customers is not None and not vip:
            contact = parse_contact(text) or \
                self._facts_of(message.channel).contact_of(message.customer_id)
            # Remembered as a digest: enough to not ask again, nothing to leak.
            checked = hashlib.sha256(contact.encode()).hexdigest()[:16] if contact else None
            if contact and checked != state.vip_checked:
                vip = bool(await self._customers.is_vip(contact))
                changes.update(vip=vip, vip_checked=checked)
        intent, confidence = None, 0.0
        if self._escalation.needs_intent:
            try:
                parsed = await self._rasa.parse(RasaText.free_text(text))
                intent = (parsed.get("intent") or {}).get("name")
                confidence = float((parsed.get("intent") or {}).get("confidence") or 0.0)
            except RasaUnavailable:
                pass  # the main call reports the outage
        await self._stores.conversations.update(message.conversation_id, **changes)
        return self._escalation.evaluate(text=text, scores=list(scores), intent=intent,
                                         confidence=confidence, vip=vip)

    # --- routing --------------------------------------------------------------------------
    async def _route_without_rasa(self, entry: JournalEntry) -> bool:
        """A message for a person (an open case) or the answer to the rating question: handled
        here, and True. False when it is for the bot."""
        cid = entry.message.conversation_id
        case = await self._desk.open_case_of(cid)
        if case is not None:
            # A person has (or will have) this conversation: the bot stays silent.
            await self._desk.customer_message(
                case, SECRET_PLACEHOLDER if entry.secret else entry.message.text)
            await self._deliver(cid, [])  # ends the turn (typing indicators)
            return True
        state = await self._stores.conversations.get(cid)
        if state.awaiting_rating:
            rating = rating_of(entry.rasa_text or "")
            if rating is not None and state.awaiting_rating == BOT_RATING:
                await self._bot_rated(entry, rating)
                return True
            if rating is not None:
                await self._desk.rate(cid, state.awaiting_rating, rating)
                return True
            await self._stores.conversations.update(cid, awaiting_rating=None)
        return False

    async def _ask_rasa(self, entry: JournalEntry) -> RasaTurn:
        message, cid = entry.message, entry.message.conversation_id
        await self._apply_rasa_control(cid, strict=True)
        text = RasaText.from_journal(entry.rasa_text or "")
        metadata = self._metadata(entry)
        self.metrics.queue_wait_seconds.labels(message.channel).observe(
            max(0.0, time.time() - entry.created_at))
        with self.metrics.rasa_seconds.time():
            if entry.trigger is not None:
                log.info("escalating %s: %s", mask_id(cid), entry.trigger.get("detail"))
                return await self._rasa.escalate(
                    conversation_id=cid, text=text, metadata=metadata,
                    trigger={**entry.trigger, "message": self._nlu_text(message)})
            return await self._rasa.send(conversation_id=cid, text=text, metadata=metadata)

    async def _recover_turn(self, entry: JournalEntry) -> RasaTurn:
        """The entry may have reached Rasa before a crash: take Rasa's answer from its tracker
        rather than running the turn a second time."""
        cid = entry.message.conversation_id
        found = await self._rasa.find_turn(conversation_id=cid,
                                           message_id=dedupe_key(entry.message),
                                           escalated=entry.trigger is not None)
        if not found.received:
            return await self._ask_rasa(entry)
        if found.turn is not None:
            log.info("message %s of %s was answered by Rasa before a restart; not sent again",
                     entry.entry_id, mask_id(cid))
            return found.turn
        # An escalation whose message Rasa recorded, but whose handoff did not run yet.
        assert entry.trigger is not None
        return await self._rasa.escalate(
            conversation_id=cid, text=RasaText.free_text(entry.message.text),
            metadata=self._metadata(entry), record_message=False,
            trigger={**entry.trigger, "message": self._nlu_text(entry.message)})

    def _metadata(self, entry: JournalEntry) -> dict[str, Any]:
        message = entry.message
        metadata: dict[str, Any] = {
            "channel": message.channel, "customer_id": message.customer_id,
            "conversation_id": message.conversation_id, "message_id": dedupe_key(message)}
        text = self._nlu_text(message)
        if text and not entry.secret:
            # For analytics' sentiment trend (the escalation rules keep their own scores).
            metadata["sentiment"] = round(sentiment_score(text), 3)
        if RasaText.from_journal(entry.rasa_text or "").is_payload and message.text.strip() \
                and not entry.secret:
            # Rasa's text is our payload ("/human_handoff"); agents are shown what the customer
            # typed or tapped instead.
            metadata[CUSTOMER_TEXT_KEY] = redact(self._nlu_text(message))[:500]
        return metadata

    # --- Rasa is away ---------------------------------------------------------------------
    async def _rasa_down(self, entry: JournalEntry, *, reason: str) -> Outcome:
        cid = entry.message.conversation_id
        log.warning("Rasa unavailable for %s: %s; message kept", mask_id(cid), reason)
        self.metrics.rasa_errors.inc()
        # The progress stays: an entry that was sent (AT_RASA) may have reached Rasa, so the
        # next attempt looks in the tracker before sending it again.
        if entry.rasa_text == HANDOFF_PAYLOAD or entry.trigger is not None:
            await self._handoff_without_rasa(entry)
            await self._stores.journal.remove(entry)
            return Outcome.DONE
        state = await self._stores.conversations.get(cid)
        if not state.outage_notified:
            await self._stores.conversations.update(cid, outage_notified=True)
            await self.reply(cid, [OutboundMessage(text=OUTAGE_REPLY, role="system")])
        else:
            await self._deliver(cid, [])
        return Outcome.WAIT

    async def _hold_back(self, entry: JournalEntry) -> bool:
        """An entry behind one that waits for Rasa: recorded now (so an agent sees it), not
        answered (that would answer out of order), unless it asks for a person. True when that
        opened a case."""
        if entry.progress is Progress.RECEIVED:
            entry = await self._record(entry)
            await self._deliver(entry.message.conversation_id, [])  # ends its typing indicator
        if entry.progress is Progress.RECORDED and (
                entry.rasa_text == HANDOFF_PAYLOAD or entry.trigger is not None):
            await self._handoff_without_rasa(entry)
            await self._stores.journal.remove(entry)
            return True
        return False

    async def _handoff_without_rasa(self, entry: JournalEntry, *,
                                    detail: str = "the assistant was unavailable") -> None:
        message, cid = entry.message, entry.message.conversation_id
        transcript = await self._stores.transcripts.recent(cid, limit=self._settings.transcript_limit)
        trigger = entry.trigger
        kind, why = ((str(trigger["kind"]), f"{trigger.get('detail')}; {detail}") if trigger
                     else ("backend_unavailable", f"customer asked for a person while {detail}"))
        package = package_from_transcript(
            conversation_id=cid, channel=message.channel, customer_id=message.customer_id,
            transcript=transcript, trigger_kind=kind, trigger_detail=why)
        receipt = await self._desk.open_case(package, rasa_paused=False)
        await self.reply(cid, [OutboundMessage(
            text=HANDOFF_WHILE_DOWN.format(case_id=receipt["case_id"]), role="system")])

    async def _apply_rasa_control(self, cid: str, *, strict: bool = False) -> None:
        """Bring Rasa's paused state to what the gateway wants. Called only by the conversation's
        worker (no Rasa turn of ours is running). strict: raise when Rasa is away (before a turn
        it must be right); otherwise it is tried again on the next drain."""
        state = await self._stores.conversations.get(cid)
        if not state.rasa_control_pending:
            return
        try:
            await self._rasa.set_paused(cid, state.rasa_paused_wanted)
        except RasaUnavailable:
            if strict:
                raise
            log.info("Rasa %s of %s postponed: Rasa unavailable",
                     "pause" if state.rasa_paused_wanted else "resume", mask_id(cid))
            return
        await self._stores.conversations.update(cid, rasa_paused_applied=state.rasa_paused_wanted)
        await self._desk.rasa_control_applied(cid)

    # --- answering ------------------------------------------------------------------------
    async def _deliver_answer(self, entry: JournalEntry) -> None:
        message, cid = entry.message, entry.message.conversation_id
        turn = RasaTurn.from_dicts(entry.replies)
        replies = list(turn.messages)
        asked_for_person = entry.rasa_text == HANDOFF_PAYLOAD or entry.trigger is not None
        if asked_for_person and await self._desk.open_case_of(cid) is None:
            # The handoff action could not open the case (action server or inbox down): a
            # person must still be reachable, so the gateway opens it itself.
            await self._handoff_without_rasa(entry, detail="the assistant could not open a case")
            return
        if not replies and entry.rasa_text:
            # Rasa ran the turn but said nothing: an action failed (the action server is down).
            replies = [OutboundMessage(text=NO_ANSWER_REPLY, role="system")]
        if message.attachments and self._nlu_text(message):
            replies.append(OutboundMessage(text=MEDIA_WITH_TEXT_NOTE))
        state = await self._stores.conversations.get(cid)
        if state.outage_notified:
            await self._stores.conversations.update(cid, outage_notified=False)
        await self.reply(cid, replies)
        self.metrics.turn_seconds.labels(message.channel).observe(
            max(0.0, time.time() - entry.created_at))
        for directive in turn.directives:
            await self._follow(cid, directive)

    async def _follow(self, cid: str, directive: str) -> None:
        if directive == Directive.EXPECT_SECRET:
            await self._stores.conversations.update(cid, expects_secret=True)
        elif directive == Directive.CONVERSATION_ENDED:
            await self._maybe_ask_rating(cid)
        elif directive == Directive.ERASE_CONVERSATION and self._erasure is not None:
            await self._erasure.erase(cid)
        else:
            log.warning("unknown directive %r from the action server ignored", directive)

    # --- satisfaction after the bot's service -------------------------------------------------
    async def _maybe_ask_rating(self, cid: str) -> None:
        """After the bot's goodbye, a sampled share of customers is asked for a 1-5 rating (a
        person's service is rated after every resolved case)."""
        if self._analytics is None or self._sample() >= self._settings.csat_bot_sample_rate:
            return
        if await self._desk.open_case_of(cid) is not None:
            return
        state = await self._stores.conversations.update(cid, awaiting_rating=BOT_RATING)
        await self.reply(cid, [OutboundMessage(text=BOT_RATING_QUESTION, role="bot",
                                               buttons=RATING_BUTTONS)])
        await self._analytics.send(str(Kind.CSAT_ASKED), conversation_id=cid,
                                   customer_id=state.customer_id, channel=state.channel)

    async def _bot_rated(self, entry: JournalEntry, rating: int) -> None:
        cid = entry.message.conversation_id
        state = await self._stores.conversations.update(cid, awaiting_rating=None)
        self.metrics.csat.labels(str(rating)).inc()
        if self._analytics is not None:
            await self._analytics.send(str(Kind.RATED), conversation_id=cid,
                                       customer_id=state.customer_id, channel=state.channel,
                                       rating=rating)
        await self.reply(cid, [OutboundMessage(text=RATING_THANKS, role="bot")])

    # --- output ---------------------------------------------------------------------------
    async def reply(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        if not messages:
            return
        offered = [b.to_dict() for m in messages for b in m.buttons]
        await self._stores.conversations.update(conversation_id, offered_buttons=offered)
        for m in messages:
            await self._record_line(conversation_id, m.role, m.text, message_id=m.message_id,
                                    buttons=[b.to_dict() for b in m.buttons],
                                    image_url=m.image_url)
        await self._deliver(conversation_id, messages)

    async def _deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        state = await self._stores.conversations.get(conversation_id)
        channel = self._channels.get(state.channel or "")
        if channel is None:
            log.error("no channel %r to deliver to %s", state.channel, mask_id(conversation_id))
            return
        try:
            await channel.deliver(conversation_id, messages)
        except DeliveryFailed as exc:
            # Kept in the transcript; recorded so it is visible, never dropped silently.
            log.error("delivery to %s failed: %s", mask_id(conversation_id), exc)
            if messages:
                await self.record_undelivered(conversation_id, str(exc),
                                              message_id=messages[-1].message_id)

    async def record_undelivered(self, conversation_id: str, detail: str, *,
                                 message_id: str) -> None:
        await self._record_line(conversation_id, "system", f"undelivered: {detail}",
                                message_id=undelivered_id(message_id))
        case = await self._desk.open_case_of(conversation_id)
        if case is not None:  # a person is on it: they see it now, not on their next reload
            await self._desk.undelivered(case, detail)

    async def _record_line(self, conversation_id: str, role: str, text: str, *, message_id: str,
                           buttons: list[dict[str, str]] | None = None,
                           image_url: str | None = None) -> None:
        # Contacts are masked here too: the transcript outlives the turn that needed them (the
        # dialogue has them in Rasa's tracker while it runs; an agent sees them masked anyway).
        entry: dict[str, Any] = {"id": message_id, "role": role, "text": redact(text),
                                 "ts": time.time()}
        if buttons:
            entry["buttons"] = buttons
        if image_url:
            entry["image_url"] = image_url
        await self._stores.transcripts.append(conversation_id, entry,
                                              limit=self._settings.transcript_limit)


def dedupe_key(message: InboundMessage) -> str:
    """The message's identity: de-duplication mark, and the id Rasa's tracker keeps."""
    return f"in:{message.channel}:{message.platform_message_id}"
