"""Instructions the action server gives the gateway inside a Rasa turn, as custom payloads
{"custom": {"gateway": <directive>}}. The gateway acts on them after the turn (when Rasa no
longer holds the conversation); they are never shown to the customer. Only the bot's own actions
produce custom payloads: nothing a customer types becomes one."""

from __future__ import annotations

from enum import StrEnum


class Directive(StrEnum):
    # The customer proved who they are and asked for their data to be deleted.
    ERASE_CONVERSATION = "erase_conversation"
    # The bot asked for a one-time code: keep the next customer message out of every record.
    EXPECT_SECRET = "expect_secret"


def payload(directive: Directive) -> dict[str, str]:
    """The custom payload an action sends (dispatcher.utter_message(json_message=...))."""
    return {"gateway": str(directive)}
