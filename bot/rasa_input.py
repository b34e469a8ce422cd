"""What may reach Rasa as a user message: the one neutralisation point for intent injection.

Rasa 3.6 reads a message whose text, after Python's str.strip(), starts with "/" as a direct
intent with entities ("/order_status{"order_id": "482913"}", see YAMLStoryReader.
unpack_regex_message): the NLU pipeline is skipped and the dialogue trusts it. A customer must
never be able to do that, so every text the gateway sends to Rasa is a RasaText, and there are only
two ways to make one: `free_text` (whatever a customer typed, neutralised) and `offered_payload`
(a button payload the bot itself offered in its latest reply, checked by the engine)."""

from __future__ import annotations

from dataclasses import dataclass

INTENT_PREFIX = "/"  # rasa.shared.constants.INTENT_MESSAGE_PREFIX
# In a user event's metadata, when Rasa's text is a payload: what the customer typed or tapped,
# so agents are shown that rather than the payload (bot/handoff_package.py).
CUSTOMER_TEXT_KEY = "customer_text"


def neutralise(text: str) -> str:
    """The text with every leading "/" removed, stripping the way Rasa strips in between, so no
    layering ("/ /goodbye", "/\u2003/goodbye", "//x") leaves a "/" at the front."""
    while True:
        text = text.strip()
        if not text.startswith(INTENT_PREFIX):
            return text
        text = text[len(INTENT_PREFIX):]


@dataclass(frozen=True, slots=True)
class RasaText:
    text: str
    is_payload: bool = False

    @classmethod
    def free_text(cls, text: str) -> RasaText:
        return cls(neutralise(text))

    @classmethod
    def offered_payload(cls, payload: str) -> RasaText:
        """Only for a payload that was offered to this customer (the engine checks that)."""
        return cls(payload, is_payload=True)

    @classmethod
    def from_journal(cls, text: str) -> RasaText:
        """A RasaText the engine made earlier and kept in its journal (free text kept there was
        neutralised already, so only payloads start with the prefix)."""
        return cls(text, is_payload=text.startswith(INTENT_PREFIX))
