"""What the agent console shows of a case: its queue card, its context package, its transcript,
and who did what (the audit trail of agents' actions)."""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from bot.inbox_port import UNKNOWN, Case, ChannelFacts, Desk, InboxStores, facts_of
from inbox.agents import Agent
from inbox.customer_label import customer_label
from inbox.reply_window import reply_until

log = logging.getLogger(__name__)


class CaseViews:
    def __init__(self, *, desk: Desk, stores: InboxStores, accounts: Mapping[str, Agent],
                 channel_facts: Mapping[str, ChannelFacts]) -> None:
        self.desk = desk
        self.stores = stores
        self.accounts = accounts
        self.facts = dict(channel_facts)

    def agent_name(self, email: str | None) -> str | None:
        if not email:
            return None
        agent = self.accounts.get(email)
        return agent.name if agent else email

    def channels(self) -> dict[str, dict[str, Any]]:
        """How the page shows each channel (its facts), so it names no channel itself."""
        return {name: facts.for_agents() for name, facts in {**self.facts,
                                                              UNKNOWN.name: UNKNOWN}.items()}

    def facts_of(self, case: Case) -> ChannelFacts:
        return facts_of(self.facts, case.channel)

    async def reply_until(self, case: Case) -> float | None:
        return await reply_until(case, self.facts_of(case), self.stores.conversations)

    async def card(self, case: Case, me: str | None = None,
                   position: int | None = None) -> dict[str, Any]:
        """What the queue shows of a case."""
        package = case.package or {}
        customer = package.get("customer") or {}
        sentiment = package.get("sentiment") or {}
        if position is None and case.is_waiting:
            position = await self.stores.cases.queue_position(case.case_id)
        return {
            "case_id": case.case_id,
            "status": str(case.status),
            "position": position if case.is_waiting else None,
            "channel": case.channel or package.get("channel") or "unknown",
            "trigger": {"kind": case.trigger.get("kind"), "detail": case.trigger.get("detail")},
            "customer": customer_label(customer, self.facts_of(case)),
            # Past this (a Unix time) a text reply can no longer be delivered; None: no limit.
            "reply_until": await self.reply_until(case),
            "wants": (package.get("summary") or {}).get("wants") or "",
            "agent": case.agent,
            "agent_name": self.agent_name(case.agent),
            "mine": bool(me and case.agent == me),
            "opened_at": case.opened_at,
            "claimed_at": case.claimed_at,
            "closed_at": case.closed_at,
            "csat": case.csat,
            "follow_up_contact_left": bool(case.follow_up_contact),
            "sentiment": {"latest": sentiment.get("latest"), "trend": sentiment.get("trend")},
        }

    async def transcript(self, case: Case) -> list[dict[str, Any]]:
        """The live transcript (desk.transcript: redacted); when the gateway holds none for the
        conversation, the one the handoff package brought (redacted by its producer)."""
        entries = await self.desk.transcript(case)
        if entries:
            return entries
        package = case.package or {}
        return [{**e, "source": "package"} for e in package.get("transcript") or []]


def context_of(case: Case) -> dict[str, Any]:
    """The handoff package as the context panel shows it, summary first."""
    package = case.package or {}
    intents = sorted(package.get("intents") or [], key=lambda i: i.get("confidence", 0),
                     reverse=True)
    return {
        "summary": package.get("summary") or {},
        "trigger": package.get("trigger") or case.trigger or {},
        "customer": package.get("customer") or {},
        "channel": package.get("channel") or case.channel,
        "slots": package.get("slots") or {},
        "intents": intents,
        "sentiment": package.get("sentiment") or {},
        "steps_tried": package.get("steps_tried") or [],
        "created_at": package.get("created_at"),
        "follow_up_contact": case.follow_up_contact,
    }


class AuditTrail:
    """Who did what in the console, when (never what a reply said)."""

    def __init__(self, stores: InboxStores, clock: Callable[[], float]) -> None:
        self.stores = stores
        self.clock = clock
        self._viewed: dict[str, set[str]] = {}

    async def record(self, agent: str, action: str, case_id: str | None = None,
                     detail: dict[str, Any] | None = None) -> None:
        entry: dict[str, Any] = {"ts": self.clock(), "agent": agent, "action": action}
        if case_id is not None:
            entry["case_id"] = case_id
        if detail:
            entry["detail"] = detail
        try:
            await self.stores.audit.record(entry)
        except Exception:  # the action happened; losing its audit line must at least be loud
            log.exception("audit record failed: %s", entry)

    def first_view(self, agent: str, case_id: str) -> bool:
        """Note that the agent saw the case; True the first time (on this instance)."""
        viewed = self._viewed.setdefault(agent, set())
        if case_id in viewed:
            return False
        viewed.add(case_id)
        return True
