"""The core's port for channels: everything a channel module may use of the core, and nothing
more (tests/unit/test_import_rules.py holds channels to it). A channel declares its facts
(`ChannelFacts`), implements `Channel`, and is given an `Intake` bound to its own name: it hands
customer messages in, keeps its own state per conversation, and never sees the engine, the
stores or the settings behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Protocol, Sequence

from aiohttp import web

from bot.channel_facts import UNKNOWN, ChannelFacts, CustomerIdKind, TextEncoding
from bot.drain import STORE_ERRORS
from bot.messages import Attachment, Button, InboundMessage, OutboundMessage
from bot.settings import SettingsError

__all__ = [
    "Attachment", "Button", "Channel", "ChannelFacts", "ConversationView", "CustomerIdKind", "DeliveryFailed",
    "InboundMessage", "Intake", "IntakeClosed", "Live", "OutboundMessage", "REFUSED",
    "STORE_ERRORS", "SettingsError", "TextEncoding", "UNKNOWN",
]


class DeliveryFailed(Exception):
    """A reply could not be delivered to the customer after the channel's retries."""


class IntakeClosed(Exception):
    """The gateway is shutting down: the channel must not acknowledge (the platform retries)."""


# What `Intake.accept` raises when it cannot take a message now (shutting down, the journal
# unreachable): the channel must not acknowledge it, so the platform or the widget sends it again.
REFUSED: tuple[type[BaseException], ...] = (IntakeClosed, *STORE_ERRORS)


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


@dataclass(frozen=True)
class ConversationView:
    channel_data: Mapping[str, Any]  # what this channel keeps (keep_channel_data)
    offered_buttons: tuple[Mapping[str, str], ...]  # the bot's latest options: title, payload
    last_customer_message_at: float | None = None  # when the customer last wrote (Unix time)


class Live(Protocol):
    """Notifications for every gateway instance (a customer's socket may be on another one);
    pub/sub keeps nothing, so `on_resume` says when what was published meanwhile was missed."""

    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str, handler: Callable[[dict[str, Any]], Awaitable[None]]
                  ) -> None: ...

    def on_resume(self, handler: Callable[[], Awaitable[None]]) -> None: ...


class Intake(Protocol):
    """The core as one channel sees it. Methods marked "acknowledgement path" are for deciding
    how to acknowledge a platform's request: they never queue behind the drains' work."""

    channel: str  # the channel this intake is bound to
    live: Live

    async def accept(self, message: InboundMessage) -> bool:
        """Record a message of this channel durably; False when this platform message was seen
        before. Raises one of REFUSED when it cannot be taken now."""
        ...

    async def say(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        """Answer outside a bot turn (a command's menu): recorded in the transcript and
        delivered through this channel, like any reply."""
        ...

    async def open_conversation(self, conversation_id: str, *, customer_id: str) -> None:
        """The conversation exists, belongs to this channel and this customer."""
        ...

    async def known(self, conversation_id: str) -> bool:
        """Whether the conversation exists (acknowledgement path)."""
        ...

    async def view(self, conversation_id: str, *,
                   acknowledging: bool = False) -> ConversationView:
        """What the channel may know of the conversation; acknowledging=True on the
        acknowledgement path."""
        ...

    async def keep_channel_data(self, conversation_id: str, changes: Mapping[str, Any]) -> None:
        """Change the named keys of this channel's data (others stay as they are)."""
        ...

    async def report_undelivered(self, conversation_id: str, detail: str, *,
                                 message_id: str) -> None:
        """A message the platform accepted failed later (its status callback said so): kept in
        the transcript, where the agents see it, as a failed `deliver` is."""
        ...

    async def first_seen(self, key: str) -> bool:
        """True the first time a key of this channel is seen (within the de-duplication
        window): platform retries of something the channel handles itself."""
        ...

    async def history(self, conversation_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The conversation's latest transcript entries, oldest first."""
        ...

    async def session(self, token: str) -> str | None:
        """The conversation a customer's session token maps to (a browser's secret)."""
        ...

    async def keep_session(self, token: str, conversation_id: str) -> None:
        """Map (or map again: the expiry slides) a session token to its conversation."""
        ...
