"""How agents see a customer, the same in the console and the Slack inbox: their name when known,
else the contact they gave (already masked), else what kind of customer they are and the end of
their id. Only the end: an SMS customer's id is their phone number, and a Telegram or Slack id
is not a contact, so nothing in it may be taken for one (a Telegram user id masked as a phone
number told agents the customer had given a number)."""

from __future__ import annotations

from typing import Any

from bot.inbox_port import ChannelFacts
from bot.redaction import redact


def customer_label(customer: dict[str, Any], facts: ChannelFacts, *,
                   contact: bool = True) -> str:
    """contact=False: leave the contact out (shown beside the label)."""
    if customer.get("display_name"):
        return redact(str(customer["display_name"]))
    if contact and customer.get("contact_hint"):
        return str(customer["contact_hint"])
    ident = str(customer.get("id") or "")
    tail = ident.rsplit(":", 1)[-1][-4:].upper()
    return f"{facts.customer_noun} {tail}".strip()
