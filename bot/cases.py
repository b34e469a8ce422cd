"""Handoff cases: opening, queueing, claiming, relaying both ways, and handing back.

Lifecycle:  queued ──claim──> active ──resolve──> resolved (customer asked for a 1-5 rating)
              │  ^                 └──return───> returned (the bot takes over again)
              │  └── follow_up (nobody available: contact taken, served first later)
              └──customer "never mind"──> cancelled
While a case is open the bot stays silent for that conversation: the gateway routes customer
messages to the case (and the inboxes) instead of Rasa, and Rasa's tracker is paused too.
Everything lives in the stores, so a gateway restart mid-handoff loses nothing."""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Protocol, Sequence

from bot.availability import Availability
from bot.identifiers import parse_contact
from bot.messages import Button, OutboundMessage
from bot.redaction import redact
from bot.stores import Stores

log = logging.getLogger(__name__)

WAITING = ("queued", "follow_up")
OPEN = ("queued", "active", "follow_up")
CANCEL_PHRASES = frozenset({"never mind", "nevermind", "nvm", "cancel", "forget it",
                            "back to the bot", "no thanks", "stop waiting"})
RATING_BUTTONS = tuple(Button(title=str(n), payload=f"/rate_{n}") for n in range(1, 6))
_RATING = re.compile(r"^\s*(?:/rate_)?([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")

Deliver = Callable[[str, Sequence[OutboundMessage]], Awaitable[None]]


class CaseConflict(Exception):
    """The case is not in a state that allows this (already claimed, closed, someone else's)."""


class CaseNotFound(Exception):
    pass


@dataclass(frozen=True)
class CaseEvent:
    kind: str  # opened, customer_message, agent_message, claimed, returned, resolved, cancelled, rated, follow_up_contact
    case: dict[str, Any]
    text: str | None = None
    actor: str | None = None


class Inbox(Protocol):
    async def on_case_event(self, event: CaseEvent) -> None: ...


class RasaControl(Protocol):
    async def pause(self, conversation_id: str) -> None: ...

    async def resume(self, conversation_id: str) -> None: ...


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
                 rasa: RasaControl | None = None) -> None:
        self._stores = stores
        self.availability = availability or Availability(presence_required=False)
        self._rasa = rasa
        self._inboxes: list[Inbox] = []
        self._deliver: Deliver | None = None

    # --- wiring ---------------------------------------------------------------------------
    def subscribe(self, inbox: Inbox) -> None:
        self._inboxes.append(inbox)

    def connect(self, deliver: Deliver) -> None:
        """How messages reach the customer (the engine's reply path, through their channel)."""
        self._deliver = deliver

    async def _emit(self, event: CaseEvent) -> None:
        for inbox in self._inboxes:
            try:
                await inbox.on_case_event(event)
            except Exception:  # one broken inbox must not block the others or the customer
                log.exception("inbox %s failed on %s", type(inbox).__name__, event.kind)

    async def _say(self, conversation_id: str, text: str, *, role: str = "system",
                   buttons: Sequence[Button] = ()) -> None:
        if self._deliver is not None:
            await self._deliver(conversation_id, [OutboundMessage(text=text, role=role,  # type: ignore[arg-type]
                                                                  buttons=tuple(buttons))])

    # --- opening --------------------------------------------------------------------------
    async def open_case(self, package: dict[str, Any]) -> dict[str, Any]:
        conversation_id = package["conversation_id"]
        existing = await self._stores.cases.open_case_for(conversation_id)
        if existing is not None:
            case = await self._stores.cases.get(existing)
            if case is not None and case["status"] in OPEN:
                return await self._receipt(case)
        staffed = self.availability.staffed(datetime.now(timezone.utc))
        case = {
            "case_id": "C-" + secrets.token_hex(4).upper(),
            "conversation_id": conversation_id,
            "channel": package["channel"],
            "customer_id": package["customer"]["id"],
            "status": "queued" if staffed else "follow_up",
            "trigger": package["trigger"],
            "package": package,
            "opened_at": time.time(),
        }
        await self._stores.cases.create(case)
        if self._rasa is not None:
            await self._rasa.pause(conversation_id)
        log.info("handoff case %s opened for %s (trigger %s, %s)", case["case_id"], conversation_id,
                 package["trigger"]["kind"], case["status"])
        await self._emit(CaseEvent("opened", case))
        return await self._receipt(case)

    async def _receipt(self, case: dict[str, Any]) -> dict[str, Any]:
        position = await self._stores.cases.queue_position(case["case_id"])
        if case["status"] == "follow_up":
            hours = self.availability.hours
            text = follow_up_message(
                case["case_id"], None if hours.spec in ("always", "never") else hours.describe())
        elif case["status"] == "active":
            text = f"You're already talking with our support team (case {case['case_id']})."
        else:
            text = queued_message(case["case_id"], position)
        return {"case_id": case["case_id"], "status": case["status"], "queue_position": position,
                "customer_message": text}

    # --- reading --------------------------------------------------------------------------
    async def get(self, case_id: str) -> dict[str, Any] | None:
        return await self._stores.cases.get(case_id)

    async def require(self, case_id: str) -> dict[str, Any]:
        case = await self._stores.cases.get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    async def open_case_of(self, conversation_id: str) -> dict[str, Any] | None:
        case_id = await self._stores.cases.open_case_for(conversation_id)
        case = await self._stores.cases.get(case_id) if case_id else None
        return case if case is not None and case["status"] in OPEN else None

    async def waiting(self) -> list[dict[str, Any]]:
        return [c for c in [await self._stores.cases.get(i) for i in await self._stores.cases.queued()]
                if c is not None]

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        ids = (await self._stores.cases.all_ids())[:limit]
        return [c for c in [await self._stores.cases.get(i) for i in ids] if c is not None]

    async def transcript(self, case: dict[str, Any]) -> list[dict[str, Any]]:
        """Everything said in the conversation, redacted for the agent's eyes."""
        entries = await self._stores.transcripts.recent(case["conversation_id"], limit=500)
        return [{**e, "text": redact(str(e.get("text", "")))} for e in entries]

    # --- agents ---------------------------------------------------------------------------
    async def claim(self, case_id: str, agent: str) -> dict[str, Any]:
        case = await self._stores.cases.transition(
            case_id, from_statuses=WAITING,
            fields={"status": "active", "agent": agent, "claimed_at": time.time()})
        if case is None:
            current = await self.require(case_id)
            raise CaseConflict(f"case {case_id} is {current['status']}"
                               + (f" (claimed by {current.get('agent')})" if current.get("agent") else ""))
        await self._say(case["conversation_id"], joined_message(agent))
        await self._emit(CaseEvent("claimed", case, actor=agent))
        return case

    async def _own(self, case_id: str, agent: str) -> dict[str, Any]:
        case = await self.require(case_id)
        if case["status"] != "active" or case.get("agent") != agent:
            raise CaseConflict(f"case {case_id} is {case['status']}; claim it first")
        return case

    async def agent_reply(self, case_id: str, agent: str, text: str) -> dict[str, Any]:
        text = text.strip()
        if not text:
            raise ValueError("empty reply")
        case = await self._own(case_id, agent)
        await self._say(case["conversation_id"], text, role="agent")
        await self._emit(CaseEvent("agent_message", case, text=text, actor=agent))
        return case

    async def return_to_bot(self, case_id: str, agent: str) -> dict[str, Any]:
        case = await self._close(case_id, agent, "returned")
        await self._say(case["conversation_id"],
                        "You're back with the automated assistant. How else can I help? (Type "
                        "\"agent\" any time to reach a person again.)")
        return case

    async def resolve(self, case_id: str, agent: str) -> dict[str, Any]:
        case = await self._close(case_id, agent, "resolved")
        await self._stores.conversations.update(case["conversation_id"],
                                                {"awaiting_rating": case["case_id"]})
        await self._say(case["conversation_id"],
                        "Our support team has marked this as resolved. How did we do? Please rate "
                        "us from 1 (poor) to 5 (great).", buttons=RATING_BUTTONS)
        return case

    async def _close(self, case_id: str, agent: str, status: str) -> dict[str, Any]:
        # Only the claiming agent may close an active case. An active case's agent never changes,
        # so checking before the compare-and-set on the status is race-free.
        await self._own(case_id, agent)
        case = await self._stores.cases.transition(
            case_id, from_statuses=("active",),
            fields={"status": status, "closed_at": time.time()})
        if case is None:
            raise CaseConflict(f"case {case_id} was closed meanwhile")
        if self._rasa is not None:
            await self._rasa.resume(case["conversation_id"])
        await self._emit(CaseEvent(status, case, actor=agent or None))
        return case

    # --- customers ------------------------------------------------------------------------
    async def customer_message(self, case: dict[str, Any], text: str) -> None:
        """A customer message while their case is open: it goes to the agent, not the bot."""
        if case["status"] in WAITING and is_cancel(text):
            closed = await self._stores.cases.transition(
                case["case_id"], from_statuses=WAITING,
                fields={"status": "cancelled", "closed_at": time.time()})
            if closed is not None:
                if self._rasa is not None:
                    await self._rasa.resume(case["conversation_id"])
                await self._emit(CaseEvent("cancelled", closed, actor="customer"))
                await self._say(case["conversation_id"],
                                "No problem, I've cancelled the request. You're back with the "
                                "automated assistant: how can I help?")
                return
        await self._emit(CaseEvent("customer_message", case, text=redact(text)))
        if case["status"] == "follow_up":
            contact = parse_contact(text)
            if contact:
                await self._stores.cases.update_state(case["case_id"], {"follow_up_contact": contact})
                await self._emit(CaseEvent("follow_up_contact", case, text=redact(contact)))
                await self._say(case["conversation_id"],
                                "Thanks, we'll get back to you there as soon as the team is back.")
            else:  # never leave the customer talking into silence
                await self._say(case["conversation_id"], "Got it, I've added that to your case." + (
                    "" if case.get("follow_up_contact") else
                    " Leave an email address or phone number and a person will get back to you."))
        elif case["status"] == "queued":
            position = await self._stores.cases.queue_position(case["case_id"])
            await self._say(case["conversation_id"],
                            f"Got it, I've added that to your case. You're number {position} in "
                            "the queue." if position else "Got it, I've added that to your case.")

    async def rate(self, conversation_id: str, case_id: str, score: int) -> None:
        await self._stores.cases.update_state(case_id, {"csat": score})
        await self._stores.conversations.update(conversation_id, {"awaiting_rating": None})
        case = await self.require(case_id)
        await self._emit(CaseEvent("rated", case, text=str(score)))
        await self._say(conversation_id, "Thank you for your feedback!")


def joined_message(agent: str) -> str:
    """How the customer hears that a person took over: a first name from a console e-mail
    address, never a platform id (a Slack user id means nothing to a customer)."""
    if "@" in agent and ":" not in agent:
        return f"{agent.split('@')[0].split('.')[0].title()} from our support team has joined the chat."
    return "A member of our support team has joined the chat."
