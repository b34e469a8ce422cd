"""Handoff cases: opening, queueing, claiming, relaying both ways, and handing back.

Lifecycle (statuses and event kinds: bot/state.py):
  queued ──claim──> active ──resolve──> resolved (customer asked for a 1-5 rating)
    │  ^                └──return───> returned (the bot takes over again)
    │  └── follow_up (nobody available: contact taken, served first later)
    └──customer "never mind"──> cancelled
While a case is open the bot stays silent for that conversation: the gateway routes customer
messages to the case (and the inboxes) instead of Rasa, and Rasa's tracker is paused too. The
handoff action pauses it itself (it returns ConversationPaused: nothing calls back into Rasa
during its turn); the desk only says what it wants (ConversationState.rasa_paused_wanted) and the
conversation's worker applies it outside any Rasa turn, retrying while Rasa is away.

Case events reach two kinds of inbox: `subscribe` (once per event, on the instance where it
happened: the Slack inbox posts to Slack) and `subscribe_live` (on every instance, through the
stores' bus: consoles push to the agents connected there)."""

from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Collection, Protocol, Sequence

from bot.availability import Availability
from bot.handoff_package import with_gateway_transcript
from bot.identifiers import parse_contact
from bot.log_format import about
from bot.messages import Button, OutboundMessage, Role
from bot.redaction import mask_id, redact
from bot.state import (CLOSING_EVENT, OPEN, WAITING, Case, CaseEvent, CaseEventKind, CaseStatus)
from bot.stores import Stores

log = logging.getLogger(__name__)

CASE_EVENTS_TOPIC = "case-events"
RASA_CONTROL = "rasa-control"  # kv namespace: conversations whose pause/resume is not applied yet
RASA_CONTROL_TTL_S = 7 * 24 * 3600
PRESENCE = "agent-presence"  # kv namespace: "<agent>|<instance>" for every open console
PRESENCE_TTL_S = 150  # refreshed every minute by the console while its socket is open
CANCEL_PHRASES = frozenset({"never mind", "nevermind", "nvm", "cancel", "forget it",
                            "back to the bot", "no thanks", "stop waiting"})
RATING_BUTTONS = tuple(Button(title=str(n), payload=f"/rate_{n}") for n in range(1, 6))
RATING_THANKS = "Thank you for your feedback!"
_RATING = re.compile(r"^\s*(?:/rate_)?([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")

Deliver = Callable[[str, Sequence[OutboundMessage]], Awaitable[None]]
Schedule = Callable[[str], None]


class CaseConflict(Exception):
    """The case is not in a state that allows this (already claimed, closed, someone else's)."""


class CaseNotFound(Exception):
    pass


class Inbox(Protocol):
    async def on_case_event(self, event: CaseEvent) -> None: ...


def is_cancel(text: str) -> bool:
    return re.sub(r"[^\w\s]", "", text.lower()).strip() in CANCEL_PHRASES


def rating_of(text: str) -> int | None:
    match = _RATING.match(text or "")
    return int(match.group(1)) if match else None


def queued_message(case_id: str, position: int | None) -> str:
    place = f" You're number {position} in the queue, and" if position else ""
    return (f"I've passed our conversation to our support team (case {case_id}) with a summary, so "
            f"you won't need to repeat yourself.{place} a person will reply right here. "
            "Say \"never mind\" at any time to go back to the assistant.")


def follow_up_message(case_id: str, hours: str | None) -> str:
    """`hours`: the team's opening hours when worth telling (not for "always" with nobody signed
    in, nor "never")."""
    when = f" (our team's hours: {hours})" if hours else ""
    return (f"I've opened case {case_id} for our support team, but nobody is available to chat "
            f"right now{when}. If you leave an email address or phone "
            "number, a person will get back to you; you'll be first in line when the team is back. "
            "Say \"never mind\" to go back to the assistant.")


class CaseDesk:
    def __init__(self, stores: Stores, *, availability: Availability | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._stores = stores
        self.availability = availability or Availability(presence_required=False)
        self._clock = clock
        self._inboxes: list[Inbox] = []
        self._live: list[Inbox] = []
        self._deliver: Deliver | None = None
        self._schedule: Schedule | None = None
        stores.bus.subscribe(CASE_EVENTS_TOPIC, self._from_bus)

    # --- wiring ---------------------------------------------------------------------------
    def subscribe(self, inbox: Inbox) -> None:
        """Events of cases handled on this instance, once each (for inboxes with side effects
        elsewhere, like posting to Slack)."""
        self._inboxes.append(inbox)

    def subscribe_live(self, inbox: Inbox) -> None:
        """Every case event of every instance (for inboxes that push to connected agents)."""
        self._live.append(inbox)

    def connect(self, deliver: Deliver, schedule: Schedule) -> None:
        """How messages reach the customer (the engine's reply path, through their channel), and
        how a conversation gets its worker (which applies what the desk wants of Rasa)."""
        self._deliver, self._schedule = deliver, schedule

    async def _emit(self, event: CaseEvent) -> None:
        with about(conversation_id=event.case.conversation_id, case_id=event.case.case_id):
            await self._emit_here(event)

    async def _emit_here(self, event: CaseEvent) -> None:
        for inbox in self._inboxes:
            try:
                await inbox.on_case_event(event)
            except Exception:  # one broken inbox must not block the others or the customer
                log.exception("inbox %s failed on %s", type(inbox).__name__, event.kind)
        try:
            await self._stores.bus.publish(CASE_EVENTS_TOPIC, event.to_dict())
        except Exception:  # live views miss one update; the state itself is stored
            log.exception("case event %s of %s not published", event.kind, event.case.case_id)

    async def _from_bus(self, message: dict[str, Any]) -> None:
        event = CaseEvent.from_dict(message)
        for inbox in self._live:
            try:
                await inbox.on_case_event(event)
            except Exception:
                log.exception("live inbox %s failed on %s", type(inbox).__name__, event.kind)

    async def _say(self, conversation_id: str, text: str, *, role: Role = "system",
                   buttons: Sequence[Button] = ()) -> None:
        if self._deliver is not None:
            await self._deliver(conversation_id, [OutboundMessage(text=text, role=role,
                                                                  buttons=tuple(buttons))])

    async def _want_rasa_paused(self, conversation_id: str, paused: bool, *,
                                applied: bool | None = None) -> None:
        changes: dict[str, Any] = {"rasa_paused_wanted": paused}
        if applied is not None:
            changes["rasa_paused_applied"] = applied
        state = await self._stores.conversations.update(conversation_id, **changes)
        if not state.rasa_control_pending:
            await self._stores.kv.delete(RASA_CONTROL, conversation_id)
            return
        await self._stores.kv.put(RASA_CONTROL, conversation_id, True, ttl_s=RASA_CONTROL_TTL_S,
                                  listed=True)
        if self._schedule is not None:
            self._schedule(conversation_id)

    # --- opening --------------------------------------------------------------------------
    async def open_case(self, package: dict[str, Any], *, rasa_paused: bool) -> dict[str, Any]:
        """Open a case for the package's conversation (or return its open one). rasa_paused: the
        caller pauses Rasa's tracker itself (the handoff action returns ConversationPaused);
        otherwise the conversation's worker pauses it once Rasa answers."""
        conversation_id = package["conversation_id"]
        existing = await self._stores.cases.open_case_for(conversation_id)
        if existing is not None:
            return await self._receipt(existing)
        staffed = await self._staffed(datetime.now(timezone.utc))
        package = with_gateway_transcript(
            package, await self._stores.transcripts.recent(conversation_id, limit=500))
        case = Case(
            case_id="C-" + secrets.token_hex(4).upper(),
            conversation_id=conversation_id,
            channel=package["channel"],
            customer_id=package["customer"]["id"],
            status=CaseStatus.QUEUED if staffed else CaseStatus.FOLLOW_UP,
            trigger=package["trigger"],
            package=package,
            opened_at=self._clock(),
        )
        await self._stores.cases.create(case)
        await self._want_rasa_paused(conversation_id, True, applied=rasa_paused)
        log.info("handoff case %s opened for %s (trigger %s, %s)", case.case_id,
                 mask_id(conversation_id), package["trigger"]["kind"], case.status)
        await self._emit(CaseEvent(CaseEventKind.OPENED, case))
        return await self._receipt(case)

    async def _staffed(self, now: datetime) -> bool:
        """Within hours and, when presence is required, someone online on any instance."""
        if self.availability.staffed(now):
            return True
        if not (self.availability.presence_required and self.availability.hours.is_open(now)):
            return False
        return bool(await self._stores.kv.keys(PRESENCE))

    async def agent_present(self, agent: str, instance: str) -> None:
        """An agent's console is open on `instance` (refresh within PRESENCE_TTL_S)."""
        await self._stores.kv.put(PRESENCE, f"{agent}|{instance}", True, ttl_s=PRESENCE_TTL_S,
                                  listed=True)

    async def agent_left(self, agent: str, instance: str) -> None:
        await self._stores.kv.delete(PRESENCE, f"{agent}|{instance}")

    async def _receipt(self, case: Case) -> dict[str, Any]:
        position = await self._stores.cases.queue_position(case.case_id)
        if case.status is CaseStatus.FOLLOW_UP:
            hours = self.availability.hours
            text = follow_up_message(
                case.case_id, None if hours.spec in ("always", "never") else hours.describe())
        elif case.status is CaseStatus.ACTIVE:
            text = f"You're already talking with our support team (case {case.case_id})."
        else:
            text = queued_message(case.case_id, position)
        return {"case_id": case.case_id, "status": str(case.status), "queue_position": position,
                "customer_message": text}

    # --- reading --------------------------------------------------------------------------
    async def get(self, case_id: str) -> Case | None:
        return await self._stores.cases.get(case_id)

    async def require(self, case_id: str) -> Case:
        case = await self._stores.cases.get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    async def open_case_of(self, conversation_id: str) -> Case | None:
        return await self._stores.cases.open_case_for(conversation_id)

    async def waiting(self) -> list[Case]:
        return await self._stores.cases.waiting()

    async def recent(self, limit: int = 50) -> list[Case]:
        return await self._stores.cases.recent(limit=limit)

    async def transcript(self, case: Case) -> list[dict[str, Any]]:
        """Everything said in the conversation, redacted for the agent's eyes."""
        entries = await self._stores.transcripts.recent(case.conversation_id, limit=500)
        return [{**e, "text": redact(str(e.get("text", "")))} for e in entries]

    # --- agents ---------------------------------------------------------------------------
    async def claim(self, case_id: str, agent: str) -> Case:
        case = await self._stores.cases.transition(
            case_id, from_statuses=WAITING, to=CaseStatus.ACTIVE, agent=agent,
            claimed_at=self._clock())
        if case is None:
            current = await self.require(case_id)
            raise CaseConflict(f"case {case_id} is {current.status}"
                               + (f" (claimed by {current.agent})" if current.agent else ""))
        await self._say(case.conversation_id, joined_message(agent))
        await self._emit(CaseEvent(CaseEventKind.CLAIMED, case, actor=agent))
        return case

    async def _own(self, case_id: str, agent: str) -> Case:
        case = await self.require(case_id)
        if case.status is not CaseStatus.ACTIVE or case.agent != agent:
            raise CaseConflict(f"case {case_id} is {case.status}; claim it first")
        return case

    async def agent_reply(self, case_id: str, agent: str, text: str) -> Case:
        text = text.strip()
        if not text:
            raise ValueError("empty reply")
        case = await self._own(case_id, agent)
        await self._say(case.conversation_id, text, role="agent")
        await self._emit(CaseEvent(CaseEventKind.AGENT_MESSAGE, case, text=text, actor=agent))
        return case

    async def return_to_bot(self, case_id: str, agent: str) -> Case:
        case = await self._close(case_id, agent, CaseStatus.RETURNED)
        await self._say(case.conversation_id,
                        "You're back with the automated assistant. How else can I help? (Type "
                        "\"agent\" any time to reach a person again.)")
        return case

    async def resolve(self, case_id: str, agent: str) -> Case:
        case = await self._close(case_id, agent, CaseStatus.RESOLVED)
        await self._stores.conversations.update(case.conversation_id,
                                                awaiting_rating=case.case_id)
        await self._say(case.conversation_id,
                        "Our support team has marked this as resolved. How did we do? Please rate "
                        "us from 1 (poor) to 5 (great).", buttons=RATING_BUTTONS)
        return case

    async def _close(self, case_id: str, agent: str, status: CaseStatus) -> Case:
        # Only the claiming agent may close an active case. An active case's agent never changes,
        # so checking before the compare-and-set on the status is race-free.
        await self._own(case_id, agent)
        case = await self._transition(case_id, {CaseStatus.ACTIVE}, status)
        if case is None:
            raise CaseConflict(f"case {case_id} was closed meanwhile")
        await self._emit(CaseEvent(CLOSING_EVENT[status], case, actor=agent or None))
        return case

    async def _transition(self, case_id: str, from_statuses: Collection[CaseStatus],
                          to: CaseStatus) -> Case | None:
        case = await self._stores.cases.transition(case_id, from_statuses=from_statuses, to=to,
                                                   closed_at=self._clock())
        if case is not None and to not in OPEN:
            await self._want_rasa_paused(case.conversation_id, False)
        return case

    # --- customers ------------------------------------------------------------------------
    async def undelivered(self, case: Case, detail: str) -> None:
        """A message to the case's customer did not reach them: the agents are told at once."""
        await self._emit(CaseEvent(CaseEventKind.UNDELIVERED, case, text=redact(detail)))

    async def customer_message(self, case: Case, text: str) -> None:
        """A customer message while their case is open: it goes to the agent, not the bot."""
        if case.is_waiting and is_cancel(text):
            closed = await self._transition(case.case_id, WAITING, CaseStatus.CANCELLED)
            if closed is not None:
                await self._emit(CaseEvent(CaseEventKind.CANCELLED, closed, actor="customer"))
                await self._say(case.conversation_id,
                                "No problem, I've cancelled the request. You're back with the "
                                "automated assistant: how can I help?")
                return
        await self._emit(CaseEvent(CaseEventKind.CUSTOMER_MESSAGE, case, text=redact(text)))
        if case.status is CaseStatus.FOLLOW_UP:
            contact = parse_contact(text)
            if contact:
                await self._stores.cases.update(case.case_id, follow_up_contact=contact)
                await self._emit(CaseEvent(CaseEventKind.FOLLOW_UP_CONTACT, case,
                                           text=redact(contact)))
                await self._say(case.conversation_id,
                                "Thanks, we'll get back to you there as soon as the team is back.")
            else:  # never leave the customer talking into silence
                await self._say(case.conversation_id, "Got it, I've added that to your case." + (
                    "" if case.follow_up_contact else
                    " Leave an email address or phone number and a person will get back to you."))
        elif case.status is CaseStatus.QUEUED:
            position = await self._stores.cases.queue_position(case.case_id)
            await self._say(case.conversation_id,
                            f"Got it, I've added that to your case. You're number {position} in "
                            "the queue." if position else "Got it, I've added that to your case.")

    async def rate(self, conversation_id: str, case_id: str, score: int) -> None:
        await self._stores.conversations.update(conversation_id, awaiting_rating=None)
        case = await self._stores.cases.update(case_id, csat=score)
        if case is not None:
            await self._emit(CaseEvent(CaseEventKind.RATED, case, text=str(score)))
        await self._say(conversation_id, RATING_THANKS)

    async def forget(self, cases: Sequence[Case]) -> None:
        """The customer's data was erased: inboxes drop these cases."""
        for case in cases:
            await self._emit(CaseEvent(CaseEventKind.ERASED, case))

    async def rasa_control_pending(self) -> list[str]:
        """Conversations whose pause/resume has not reached Rasa yet (the sweep retries them)."""
        return await self._stores.kv.keys(RASA_CONTROL)

    async def rasa_control_applied(self, conversation_id: str) -> None:
        await self._stores.kv.delete(RASA_CONTROL, conversation_id)


def joined_message(agent: str) -> str:
    """How the customer hears that a person took over: a first name from a console e-mail
    address, never a platform id (a Slack user id means nothing to a customer)."""
    if "@" in agent and ":" not in agent:
        return f"{agent.split('@')[0].split('.')[0].title()} from our support team has joined the chat."
    return "A member of our support team has joined the chat."
