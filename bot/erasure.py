"""Erasing a customer's data when they ask (the account-deletion flow, after they proved who they
are): the conversation's state, pending messages, transcript, web chat sessions, handoff cases,
Rasa's tracker and the analytics rows of the customer.

It runs in the conversation's worker after the Rasa turn that asked for it, so no Rasa turn is
running for the conversation: Rasa 3.6 has no API to delete a tracker (and appending events
deletes nothing), so the tracker is deleted in the tracker store itself. The audit log records
that an erasure happened, on which channel and when, never what was erased."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Protocol

from bot.cases import CaseDesk
from bot.redaction import mask_id
from bot.stores import Stores

log = logging.getLogger(__name__)


class TrackerEraser(Protocol):
    async def delete(self, sender_id: str) -> int:
        """Delete a conversation's tracker; returns how many events were deleted."""
        ...


class ChannelForgetter(Protocol):
    async def forget(self, conversation_id: str) -> None:
        """Drop live connections and anything the channel keeps for the conversation."""
        ...


class AnalyticsEraser(Protocol):
    async def erase(self, conversation_id: str, customer_id: str | None) -> None:
        """Delete the customer's analytics rows (bot/analytics_events.py)."""
        ...


ANALYTICS_ATTEMPTS = 3


class Erasure:
    def __init__(self, stores: Stores, desk: CaseDesk, *, tracker: TrackerEraser | None,
                 channels: dict[str, ChannelForgetter] | None = None,
                 analytics: AnalyticsEraser | None = None) -> None:
        self._analytics = analytics
        self._stores = stores
        self._desk = desk
        self._tracker = tracker
        self._channels = channels if channels is not None else {}

    async def _erase_analytics(self, conversation_id: str, customer_id: str | None) -> bool | None:
        """The analytics rows, tried a few times: a failure there must not stop the rest of the
        erasure (the conversation's state is already going). None: analytics are off."""
        if self._analytics is None:
            return None
        for attempt in range(1, ANALYTICS_ATTEMPTS + 1):
            try:
                await self._analytics.erase(conversation_id, customer_id)
                return True
            except Exception as exc:  # the analytics database away for a moment
                log.warning("analytics rows of %s not erased (attempt %d of %d): %s",
                            mask_id(conversation_id), attempt, ANALYTICS_ATTEMPTS,
                            type(exc).__name__)
                await asyncio.sleep(0.5 * attempt)
        log.error("analytics rows of %s NOT erased: they expire with ANALYTICS_RETENTION_DAYS; "
                  "erase them by hand (docs/analytics.md)", mask_id(conversation_id))
        return False

    async def erase(self, conversation_id: str) -> None:
        state = await self._stores.conversations.get(conversation_id)
        cases = await self._stores.cases.delete_for(conversation_id)
        # The intake journal still holds the message being answered (the code itself, as typed)
        # until the engine finishes the turn; a crash in between would replay the erased turn.
        await self._stores.journal.delete_for(conversation_id)
        await self._stores.transcripts.delete(conversation_id)
        await self._stores.sessions.delete_for(conversation_id)
        tracker_events = await self._tracker.delete(conversation_id) if self._tracker else 0
        analytics_erased = await self._erase_analytics(conversation_id, state.customer_id)
        await self._stores.conversations.delete(conversation_id)
        await self._desk.forget(cases)
        await self._stores.audit.record({
            "ts": time.time(), "agent": "customer", "action": "erasure",
            "detail": {"erasure_id": secrets.token_hex(6), "channel": state.channel,
                       "tracker": self._tracker is not None, "analytics": analytics_erased}})
        # Last: a web chat tab closed with CLOSE_ERASED then means the erasure is complete.
        channel = self._channels.get(state.channel or "")
        if channel is not None:
            await channel.forget(conversation_id)
        log.info("erased the data of %s at the customer's request (%d case(s), tracker %s)",
                 mask_id(conversation_id), len(cases),
                 f"{tracker_events} event(s)" if self._tracker else "not configured")
