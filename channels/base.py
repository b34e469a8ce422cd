"""The channel protocol: what the gateway needs from a customer-facing platform module."""

from __future__ import annotations

from typing import Protocol, Sequence

from aiohttp import web

from bot.channel_facts import ChannelFacts
from bot.messages import OutboundMessage


class DeliveryFailed(Exception):
    """A reply could not be delivered to the customer after the channel's retries."""


class Channel(Protocol):
    name: str
    facts: ChannelFacts  # declared once, in the channel's module (FACTS)

    def mount(self, app: web.Application) -> None:
        """Add this channel's routes (webhooks, websockets, pages) to the gateway app."""
        ...

    async def start(self) -> None:
        """Open clients and start background work (called once the event loop runs)."""
        ...

    async def close(self) -> None:
        """Stop background work and close clients."""
        ...

    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        """Send replies to the customer of a conversation; raise DeliveryFailed when that fails.
        An empty sequence marks the end of a turn with nothing to say."""
        ...
