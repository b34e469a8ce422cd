"""Suggested replies for agents: the FAQ answers Rasa's response selector ranks best for the
customer's last message.

Rasa's /model/parse answers with response_selector.faq.ranking = [{intent_response_key:
"faq/<topic>", confidence}, ...]; each topic's text is the first `text` of `utter_faq/<topic>`
in data/faq.yml (read once). Suggestions are a help, never a blocker: when Rasa cannot be
reached the agent gets an empty list and a note."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.inbox_port import RasaText

log = logging.getLogger(__name__)

FAQ_FILE = Path(__file__).resolve().parents[1] / "data" / "faq.yml"
MAX_SUGGESTIONS = 3
UNAVAILABLE_NOTE = "Suggestions are unavailable right now (the assistant could not be reached)."
NO_MATCH_NOTE = "No FAQ answer matches the customer's last message."
NO_MESSAGE_NOTE = "The customer has not written anything to suggest a reply for yet."


class Parser(Protocol):
    async def parse(self, text: RasaText) -> dict[str, Any]: ...


@lru_cache(maxsize=4)
def faq_answers(path: Path = FAQ_FILE) -> dict[str, str]:
    """topic -> the first text of utter_faq/<topic>."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    answers: dict[str, str] = {}
    for name, variants in (data.get("responses") or {}).items():
        if not str(name).startswith("utter_faq/") or not isinstance(variants, list):
            continue
        text = next((v.get("text") for v in variants if isinstance(v, dict) and v.get("text")),
                    None)
        if text:
            answers[str(name)[len("utter_faq/"):]] = str(text).strip()
    return answers


def ranked_topics(parsed: dict[str, Any]) -> list[tuple[str, float]]:
    selector = (parsed.get("response_selector") or {}).get("faq") or {}
    ranking = selector.get("ranking") or []
    topics: list[tuple[str, float]] = []
    for item in ranking:
        if not isinstance(item, dict):
            continue
        key = str(item.get("intent_response_key") or "")
        if not key.startswith("faq/"):
            continue
        try:
            confidence = float(item.get("confidence") or 0.0)
        except (TypeError, ValueError):
            continue
        topics.append((key[len("faq/"):], confidence))
    return sorted(topics, key=lambda t: t[1], reverse=True)


async def suggest(rasa: Parser, text: str | None, *, answers: dict[str, str] | None = None,
                  limit: int = MAX_SUGGESTIONS) -> dict[str, Any]:
    """{"suggestions": [{"topic", "text", "confidence"}], "note": str | None}; never raises."""
    if not text or not text.strip():
        return {"suggestions": [], "note": NO_MESSAGE_NOTE}
    answers = faq_answers() if answers is None else answers
    try:
        parsed = await rasa.parse(RasaText.free_text(text))
        topics = ranked_topics(parsed)
    except Exception as exc:  # unreachable, an error status, a body we cannot read: all the same
        log.info("reply suggestions unavailable: %s", exc)
        return {"suggestions": [], "note": UNAVAILABLE_NOTE}
    suggestions = [{"topic": topic, "text": answers[topic], "confidence": round(confidence, 3)}
                   for topic, confidence in topics if topic in answers and confidence > 0]
    suggestions = suggestions[:limit]
    return {"suggestions": suggestions, "note": None if suggestions else NO_MATCH_NOTE}
