"""The gateway's typed state: handoff cases, their events, and what the gateway remembers about a
conversation. Every store keeps these shapes; statuses and event kinds are spelled only here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping


class CaseStatus(StrEnum):
    QUEUED = "queued"        # waiting for an agent
    FOLLOW_UP = "follow_up"  # nobody was available: contact taken, served first later
    ACTIVE = "active"        # claimed by one agent
    RESOLVED = "resolved"    # closed by the agent; the customer is asked for a rating
    RETURNED = "returned"    # handed back to the bot
    CANCELLED = "cancelled"  # the customer said "never mind" before anyone took it


WAITING = frozenset({CaseStatus.QUEUED, CaseStatus.FOLLOW_UP})
OPEN = WAITING | {CaseStatus.ACTIVE}
CLOSED = frozenset({CaseStatus.RESOLVED, CaseStatus.RETURNED, CaseStatus.CANCELLED})


class CaseEventKind(StrEnum):
    OPENED = "opened"
    CUSTOMER_MESSAGE = "customer_message"
    AGENT_MESSAGE = "agent_message"
    CLAIMED = "claimed"
    RETURNED = "returned"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    RATED = "rated"
    FOLLOW_UP_CONTACT = "follow_up_contact"
    ERASED = "erased"  # the customer had their data deleted: inboxes forget the case
    UNDELIVERED = "undelivered"  # a message to the customer did not reach them (text: why)


CLOSING_EVENT = {CaseStatus.RESOLVED: CaseEventKind.RESOLVED,
                 CaseStatus.RETURNED: CaseEventKind.RETURNED,
                 CaseStatus.CANCELLED: CaseEventKind.CANCELLED}


@dataclass(frozen=True, slots=True)
class Case:
    """A handoff case: written once when it opens (ids, trigger, context package) plus a small
    mutable part (status and what agents and the customer did) that changes only through the
    store's compare-and-set on the status."""

    case_id: str
    conversation_id: str
    channel: str
    customer_id: str
    trigger: Mapping[str, Any]
    package: Mapping[str, Any]
    opened_at: float
    status: CaseStatus
    agent: str | None = None
    claimed_at: float | None = None
    closed_at: float | None = None
    csat: int | None = None
    follow_up_contact: str | None = None
    slack_ts: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_waiting(self) -> bool:
        return self.status in WAITING

    def body(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CASE_BODY_FIELDS}

    def mutable(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CASE_STATE_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), **self.mutable(), "status": str(self.status)}

    @classmethod
    def from_parts(cls, body: Mapping[str, Any], state: Mapping[str, Any]) -> Case:
        known = {**{k: body[k] for k in CASE_BODY_FIELDS if k in body},
                 **{k: v for k, v in state.items() if k in CASE_STATE_FIELDS}}
        known["status"] = CaseStatus(known["status"])
        return cls(**known)


CASE_STATE_FIELDS = ("status", "agent", "claimed_at", "closed_at", "csat", "follow_up_contact",
                     "slack_ts")
CASE_BODY_FIELDS = tuple(f.name for f in dataclasses.fields(Case) if f.name not in CASE_STATE_FIELDS)


@dataclass(frozen=True, slots=True)
class CaseEvent:
    kind: CaseEventKind
    case: Case
    text: str | None = None
    actor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "case": self.case.to_dict(), "text": self.text,
                "actor": self.actor}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseEvent:
        case = dict(data["case"])
        return cls(kind=CaseEventKind(data["kind"]), case=Case.from_parts(case, case),
                   text=data.get("text"), actor=data.get("actor"))


@dataclass(frozen=True, slots=True)
class ConversationState:
    """What the gateway remembers about one conversation between messages."""

    channel: str | None = None
    customer_id: str | None = None
    last_seen: float | None = None
    # The buttons of the latest reply: only these payloads may reach Rasa as payloads.
    offered_buttons: tuple[Mapping[str, str], ...] = ()
    # The case id whose 1-5 rating we asked for, or "bot" after a goodbye (bot/engine.py).
    awaiting_rating: str | None = None
    outage_notified: bool = False
    sentiment_scores: tuple[float, ...] = ()
    vip: bool = False
    vip_checked: str | None = None
    # Whether Rasa's tracker should be paused (a person has the conversation) and whether that
    # has reached Rasa: the gateway applies the difference only outside a Rasa turn.
    rasa_paused_wanted: bool = False
    rasa_paused_applied: bool = False
    # The bot just asked for a one-time code: the next customer message is a secret.
    expects_secret: bool = False
    # Each channel's own facts about the conversation (SMS opt-out, Telegram button map...).
    channel_data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rasa_control_pending(self) -> bool:
        return self.rasa_paused_wanted != self.rasa_paused_applied

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationState:
        values = {k: v for k, v in data.items() if k in CONVERSATION_FIELDS}
        for name in ("offered_buttons", "sentiment_scores"):
            if name in values:
                values[name] = tuple(values[name] or ())
        return cls(**values)


CONVERSATION_FIELDS = frozenset(f.name for f in dataclasses.fields(ConversationState))


def check_conversation_fields(changes: Mapping[str, Any]) -> None:
    """Stores refuse unknown fields: a typo must fail loudly, not create a new field."""
    unknown = set(changes) - CONVERSATION_FIELDS
    if unknown:
        raise TypeError(f"unknown conversation state field(s): {', '.join(sorted(unknown))}")
    if "channel_data" in changes:
        raise TypeError("channel data changes go through update_channel_data()")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
