"""What the core, the inboxes and the handoff package need to know about a channel, declared once
by the channel itself (`FACTS` in channels/<name>.py, collected by channels/registry.py): who its
customers are to an agent, whether their id is a contact, how its text is normalised before NLU,
and its limits. Owned by the core, so the core reads them without importing a channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Mapping


class CustomerIdKind(Enum):
    """What a channel's customer id is, which decides how it is shown and masked."""

    PHONE = "phone"  # the customer's phone number: a contact, masked like every contact
    PLATFORM_USER = "platform user"  # a Slack or Telegram user id: not a contact
    SESSION = "session"  # a web chat session: says nothing about the person


class TextEncoding(Enum):
    UNICODE = "unicode"
    # Billed per GSM-7 or UCS-2 segment: sent in GSM-7 where the meaning survives.
    GSM7_WHERE_POSSIBLE = "gsm-7 where possible"


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True)
class ChannelFacts:
    name: str  # also the prefix of its conversation ids and the handoff package's channel
    label: str  # the channel, for agents ("SMS")
    customer_noun: str  # one of its customers, for agents ("SMS customer")
    customer_id: CustomerIdKind
    # The console's icon: SVG path data on a 24x24 grid, drawn as a 1.8 px stroke.
    icon: str = ""
    max_text_chars: int | None = None  # per message; longer replies are split
    max_buttons: int | None = None  # None: as many as a turn offers
    encoding: TextEncoding = TextEncoding.UNICODE
    # Free-form replies are possible only this long after the customer's last message
    # (WhatsApp's 24-hour customer-service window); None: any time.
    reply_window_s: int | None = None
    # Platform markup removed before NLU (mentions, link syntax); the core's own cleaning and
    # its intent-injection filter run after it.
    normalise: Callable[[str], str] = field(default=_unchanged, compare=False)

    @property
    def ids_are_contacts(self) -> bool:
        return self.customer_id is CustomerIdKind.PHONE

    def contact_of(self, customer_id: str) -> str | None:
        """The customer's contact when their id is one (a phone number), else None."""
        return customer_id if self.ids_are_contacts else None


    def reply_until(self, last_customer_message_at: float | None) -> float | None:
        """Until when a text reply can be delivered (a Unix time), or None when there is no
        limit. Never written: the window has not opened, so it is closed already."""
        if self.reply_window_s is None:
            return None
        return (last_customer_message_at or 0.0) + self.reply_window_s

    def for_agents(self) -> dict[str, Any]:
        """What the console shows of the channel."""
        return {"label": self.label, "icon": self.icon, "reply_window_s": self.reply_window_s}


def facts_of(known: Mapping[str, ChannelFacts], channel: str | None) -> ChannelFacts:
    """A channel's facts, or UNKNOWN's for one not among `known` (a channel since removed)."""
    return known.get(channel or "", UNKNOWN)


# A channel the gateway does not know (a case from a channel since removed).
UNKNOWN = ChannelFacts(
    name="unknown", label="Other", customer_noun="Customer", customer_id=CustomerIdKind.SESSION,
    icon="M3 12a9 9 0 1 0 18 0a9 9 0 1 0-18 0zM9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 "
         "1.6v.6M12 17h.01")
