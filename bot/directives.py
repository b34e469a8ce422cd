"""Instructions the action server gives the gateway inside a Rasa turn, as custom payloads
{"custom": {"gateway": <directive>}}. The gateway acts on them after the turn (when Rasa no
longer holds the conversation); they are never shown to the customer. Only the bot's own actions
produce custom payloads (and domain.yml's responses): nothing a customer types becomes one."""

from __future__ import annotations

from enum import StrEnum


class Directive(StrEnum):
    # The customer proved who they are and asked for their data to be deleted.
    ERASE_CONVERSATION = "erase_conversation"
    # The bot asked for a one-time code: keep the next customer message out of every record.
    EXPECT_SECRET = "expect_secret"
    # The bot said goodbye (utter_goodbye in domain.yml): a sampled customer is asked for a
    # rating, so bot and human service can be compared (docs/analytics.md, CSAT).
    CONVERSATION_ENDED = "conversation_ended"


def payload(directive: Directive) -> dict[str, str]:
    """The custom payload an action sends (dispatcher.utter_message(json_message=...))."""
    return {"gateway": str(directive)}
