"""The core's cleaning of customer text before NLU, the same on every channel (training data is
written without this noise, so serving must strip it too). A channel's own markup (Slack
mentions and links, Telegram bot mentions) is removed before this by the channel's
`normalise` (bot/channel_facts.py)."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t]+")

# Exact phrases that always reach a person, whatever NLU thinks (and even when Rasa is down).
HANDOFF_KEYWORDS = frozenset({
    "agent", "an agent", "human", "a human", "person", "a person", "real person",
    "representative", "operator", "live agent", "human agent", "talk to a person",
    "talk to a human", "talk to an agent", "speak to a person", "speak to a human",
    "speak to an agent", "customer service", "support agent",
})


def clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text or "")
    text = _CONTROL.sub("", text)
    # Intent injection ("/intent{...}") is neutralised in one place for every path to Rasa:
    # bot/rasa_input.py.
    return _SPACES.sub(" ", text).strip()


def is_handoff_keyword(text: str) -> bool:
    return re.sub(r"[^\w\s]", "", text.lower()).strip() in HANDOFF_KEYWORDS
