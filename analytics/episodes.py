"""Conversations as the figures count them ("episodes"): a conversation id's events cut into
contacts. An episode starts with the first customer message (or case) after the previous one
ended, and ends with a goodbye, a resolved case, or `inactivity_s` without any event while no
case is open (docs/analytics.md, "When a conversation has ended")."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Iterable

from analytics.records import FALLBACK_ACTIONS, FALLBACK_INTENT, Kind, Record

DEFAULT_INACTIVITY_S = 30 * 60
GOODBYE_INTENTS = frozenset({"goodbye"})
_CLOSING_CASE = frozenset({Kind.CASE_RESOLVED, Kind.CASE_RETURNED, Kind.CASE_CANCELLED})
# Events that belong to the contact before them, whenever they come: the satisfaction answer
# arrives after the case was resolved, a relabel after the agent read the transcript.
_AFTERWARDS = frozenset({Kind.RATED, Kind.CSAT_ASKED, Kind.RELABELLED})


class EndReason(StrEnum):
    GOODBYE = "goodbye"
    RESOLVED = "resolved_case"
    INACTIVITY = "inactivity"
    ONGOING = "ongoing"


@dataclass
class Episode:
    conversation: str
    start: float
    records: list[Record] = field(default_factory=list)
    end: float = 0.0
    ended_by: EndReason = EndReason.ONGOING
    open_cases: set[str] = field(default_factory=set)

    @property
    def customer(self) -> str:
        return next((r.customer for r in self.records if r.customer), "")

    @property
    def channel(self) -> str:
        return next((r.channel for r in self.records if r.channel), "")

    @property
    def ended(self) -> bool:
        return self.ended_by is not EndReason.ONGOING

    def of(self, *kinds: Kind) -> list[Record]:
        return [r for r in self.records if r.kind in kinds]

    @property
    def escalated(self) -> bool:
        return any(r.kind is Kind.CASE_OPENED for r in self.records)

    @property
    def trigger(self) -> str:
        return next((r.trigger or "unknown" for r in self.records if r.kind is Kind.CASE_OPENED), "")

    @property
    def resolved(self) -> bool:
        """The customer's need was met in this contact: the bot kept it (it ended without a
        person and the customer's last message was answered), a person resolved the case, or
        the bot took it back and the customer said goodbye."""
        if not self.ended:
            return False
        if not self.escalated:
            return self.answered
        if self.of(Kind.CASE_RESOLVED):
            return True
        return bool(self.of(Kind.CASE_RETURNED)) and self.ended_by is EndReason.GOODBYE

    @property
    def answered(self) -> bool:
        """Something (the bot or a person) answered the customer's last message."""
        asked = [r.ts for r in self.records if r.kind in (Kind.USER, Kind.CASE_CUSTOMER_MESSAGE)]
        return not asked or any(r.ts >= max(asked) for r in self.records
                                if r.kind in (Kind.BOT, Kind.AGENT_MESSAGE))

    @property
    def resolved_at(self) -> float | None:
        if not self.resolved:
            return None
        resolved = self.of(Kind.CASE_RESOLVED)
        return resolved[0].ts if resolved else self.end

    def fallbacks(self) -> list[Record]:
        """Customer messages the bot did not understand: NLU's fallback intent, or a fallback
        action or message answered them."""
        missed: list[Record] = []
        current: Record | None = None
        for record in self.records:
            if record.kind is Kind.USER:
                current = record
                if record.intent == FALLBACK_INTENT:
                    missed.append(record)
            elif current is not None and record.action in FALLBACK_ACTIONS \
                    and (not missed or missed[-1] is not current):
                missed.append(current)
        return missed


def episodes(records: Iterable[Record], *, now: float,
             inactivity_s: float = DEFAULT_INACTIVITY_S) -> list[Episode]:
    """Every episode of these records (any order, a record given twice counted once), oldest
    first."""
    unique = {r.event_key: r for r in records}
    by_conversation: dict[str, list[Record]] = {}
    for record in sorted(unique.values(), key=lambda r: (r.ts, r.event_key)):
        by_conversation.setdefault(record.conversation, []).append(record)
    found: list[Episode] = []
    for conversation, stream in by_conversation.items():
        found.extend(_cut(conversation, stream, now=now, inactivity_s=inactivity_s))
    return sorted(found, key=lambda e: (e.start, e.conversation))


def _cut(conversation: str, stream: list[Record], *, now: float,
         inactivity_s: float) -> list[Episode]:
    done: list[Episode] = []
    current: Episode | None = None
    for record in stream:
        if current is not None and not current.open_cases \
                and record.ts - current.records[-1].ts > inactivity_s \
                and record.kind not in _AFTERWARDS:
            _close(current, EndReason.INACTIVITY, current.records[-1].ts)
            done.append(current)
            current = None
        if record.kind in _AFTERWARDS:
            target = current or (done[-1] if done else None)
            if target is not None:
                target.records.append(record)
            continue
        if current is None:
            if record.kind not in (Kind.USER, Kind.CASE_OPENED, Kind.CASE_CUSTOMER_MESSAGE):
                # Rasa's own events before the customer said anything (a session start)
                # or a late bot message after an episode ended belong to no contact.
                if done and record.kind in (Kind.BOT, Kind.ACTION, Kind.AGENT_MESSAGE) \
                        and record.ts - done[-1].end <= inactivity_s:
                    done[-1].records.append(record)
                continue
            current = Episode(conversation=conversation, start=record.ts)
        current.records.append(record)
        if record.kind is Kind.CASE_OPENED:
            current.open_cases.add(record.case_id)
        elif record.kind in _CLOSING_CASE:
            current.open_cases.discard(record.case_id)
            if record.kind is Kind.CASE_RESOLVED and not current.open_cases:
                _close(current, EndReason.RESOLVED, record.ts)
                done.append(current)
                current = None
        elif record.kind is Kind.USER and record.intent in GOODBYE_INTENTS \
                and not current.open_cases:
            _close(current, EndReason.GOODBYE, record.ts)
            done.append(current)
            current = None
    if current is not None:
        last = current.records[-1].ts
        if not current.open_cases and now - last > inactivity_s:
            _close(current, EndReason.INACTIVITY, last)
        else:
            current.end = last
        done.append(current)
    return done


def _close(episode: Episode, reason: EndReason, at: float) -> None:
    episode.ended_by, episode.end = reason, at
