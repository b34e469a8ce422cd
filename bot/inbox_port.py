"""The core's port for the agent inboxes (the web console, the Slack inbox): the case desk as an
inbox may use it, the case types, the parts of the stores an inbox keeps its own state in, and the
channel facts it renders. tests/unit/test_import_rules.py holds inbox/ to it, as channels/ to
bot/channel_port.py."""

from __future__ import annotations

from typing import Any, Protocol

from bot.availability import Availability
from bot.cases import CaseConflict, CaseNotFound, Inbox
from bot.channel_facts import UNKNOWN, ChannelFacts, facts_of
from bot.channel_port import Channel, DeliveryFailed
from bot.rasa_input import RasaText
from bot.state import CLOSED, OPEN, WAITING, Case, CaseEvent, CaseEventKind, CaseStatus
from bot.stores.base import (AuditLog, Bus, ConversationStore, HandoffCaseStore, IdempotencyStore,
                             KeyValueStore, Retention, SessionStore)

__all__ = [
    "CLOSED", "OPEN", "UNKNOWN", "WAITING", "Availability", "Case", "CaseConflict", "CaseEvent",
    "CaseEventKind", "CaseNotFound", "CaseStatus", "Channel", "ChannelFacts", "DeliveryFailed",
    "ConversationStore", "Desk", "Inbox", "InboxStores", "RasaText", "Relabel", "facts_of",
]


class Relabel(Protocol):
    """An agent's correction of the bot: the customer's `text` meant `intent` (bot/
    analytics_events.py records it as a training candidate for `make review`)."""

    async def __call__(self, case: Case, *, text: str, intent: str, wrong_answer: bool,
                       agent: str) -> None: ...


class Desk(Protocol):
    """The case desk as an inbox uses it: read cases, act on them for an agent, be told of
    their events, say who is present."""

    availability: Availability

    def subscribe(self, inbox: Inbox) -> None:
        """Events of cases handled on this instance, once each."""
        ...

    def subscribe_live(self, inbox: Inbox) -> None:
        """Every case event of every instance (for pushing to connected agents)."""
        ...

    async def get(self, case_id: str) -> Case | None: ...

    async def require(self, case_id: str) -> Case: ...

    async def waiting(self) -> list[Case]: ...

    async def recent(self, limit: int = 50) -> list[Case]: ...

    async def transcript(self, case: Case) -> list[dict[str, Any]]: ...

    async def claim(self, case_id: str, agent: str) -> Case: ...

    async def agent_reply(self, case_id: str, agent: str, text: str) -> Case: ...

    async def return_to_bot(self, case_id: str, agent: str) -> Case: ...

    async def resolve(self, case_id: str, agent: str) -> Case: ...

    async def agent_present(self, agent: str, instance: str) -> None: ...

    async def agent_left(self, agent: str, instance: str) -> None: ...


class InboxStores(Protocol):
    """The stores an inbox reads or keeps its own state in: its sessions, lockouts and indexes
    (kv, sessions, idempotency), the audit log, the cases' queue positions and the Slack ts, the
    conversations' last-seen time (reply windows), the live bus's resume."""

    cases: HandoffCaseStore
    conversations: ConversationStore
    sessions: SessionStore
    kv: KeyValueStore
    idempotency: IdempotencyStore
    audit: AuditLog
    bus: Bus
    retention: Retention
