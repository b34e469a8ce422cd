"""The one builder of the handoff context package (bot/schemas/handoff-package-v1.json): from a
tracker's events in the handoff action (`build_package`), and from the gateway's own transcript
when the bot cannot run (`package_from_transcript`: Rasa or the action server down). Pure: no
rasa-sdk types, so it is tested with plain event dicts. Every free text is redacted here, before
anything leaves the process that builds it."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Iterable

from bot.handoff_schema import package_channel
from bot.rasa_input import CUSTOMER_TEXT_KEY, INTENT_PREFIX
from bot.redaction import mask_email, redact
from bot.sentiment import summarise

SCHEMA_VERSION = "1.0"
# The summary of a package the gateway built without the bot.
UNAVAILABLE_WANTS = "not known: the assistant was unavailable"
UNAVAILABLE_DID = "nothing: the assistant was unavailable"
# Rasa's text for intents triggered through its API (not something the customer wrote).
EXTERNAL = "EXTERNAL: "

# What each intent tells an agent the customer wanted.
WANTS = {
    "order_status": "the status of an order",
    "password_reset": "to reset their password",
    "complaint": "to complain about a problem",
    "human_handoff": "to talk to a person",
    "faq": "an answer to a general question",
    "bot_challenge": "to know whether they talk to a bot",
    "cancel": "to stop the current flow",
}
_SKIP_FOR_WANTS = {"greet", "goodbye", "thank", "affirm", "deny", "inform", "help", "nlu_fallback",
                   "out_of_scope", "human_handoff", "bot_challenge", "cancel"}
# Slots an agent may see, redacted; everything else (counters, internal flags) stays out.
SHARED_SLOTS = ("order_id", "order_contact", "reset_login")


def _intent_of(event: dict[str, Any]) -> tuple[str | None, float]:
    intent = (event.get("parse_data") or {}).get("intent") or {}
    name = intent.get("name")
    if name == "faq":
        selector = (event.get("parse_data") or {}).get("response_selector", {}).get("faq", {})
        key = (selector.get("response") or {}).get("intent_response_key")
        if key:
            name = key
    return name, float(intent.get("confidence") or 0.0)


def _current_session(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "session_started":
            return events[i + 1:]
    return events


def _transcript(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user" and event.get("text") and not str(event["text"]).startswith(EXTERNAL):
            name, _ = _intent_of(event)
            lines.append({"role": "customer", "text": redact(_customer_words(event, name))[:5000],
                          "ts": float(event.get("timestamp") or 0), "intent": name})
        elif kind == "bot" and event.get("text"):
            lines.append({"role": "bot", "text": redact(str(event["text"]))[:5000],
                          "ts": float(event.get("timestamp") or 0)})
    return lines[-500:]


def _customer_words(event: dict[str, Any], intent: str | None) -> str:
    """What the customer wrote or tapped. For a button or the handoff keyword Rasa's text is the
    gateway's payload ("/human_handoff"): the gateway puts the customer's own words in the
    metadata, and an older event without them is shown by what it meant."""
    text = str(event["text"])
    if not text.startswith(INTENT_PREFIX):
        return text
    said = (event.get("metadata") or {}).get(CUSTOMER_TEXT_KEY)
    if isinstance(said, str) and said.strip():
        return said
    return f"[{(intent or text.lstrip(INTENT_PREFIX)).split('{')[0].replace('_', ' ')}]"


def _intent_tags(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    tags: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for event in events:
        if event.get("event") != "user":
            continue
        name, confidence = _intent_of(event)
        if not name:
            continue
        tag = tags.setdefault(name, {"name": name, "confidence": 0.0, "count": 0})
        tag["count"] += 1
        tag["confidence"] = round(max(tag["confidence"], min(confidence, 1.0)), 3)
    return list(tags.values())


def _shared_slots(slots: dict[str, Any]) -> dict[str, Any]:
    shared: dict[str, Any] = {}
    for name in SHARED_SLOTS:
        value = slots.get(name)
        if value is None:
            continue
        shared[name] = redact(str(value)) if isinstance(value, str) else value
    return shared


def _wants(tags: list[dict[str, Any]]) -> str:
    wanted = []
    for tag in tags:
        base = tag["name"].split("/")[0]
        if base in _SKIP_FOR_WANTS:
            continue
        text = WANTS.get(base, tag["name"])
        if base == "faq":
            text = f"an answer about {tag['name'].split('/', 1)[-1].replace('_', ' ')}"
        if text not in wanted:
            wanted.append(text)
    return "; ".join(wanted) if wanted else "not stated before asking for help"


def build_package(
    *,
    conversation_id: str,
    channel: str,
    customer_id: str,
    events: list[dict[str, Any]],
    slots: dict[str, Any],
    steps_tried: list[str],
    trigger_kind: str,
    trigger_detail: str | None,
    last_customer_text: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    session = _current_session(events)
    transcript = _transcript(session)
    customer_lines = [line for line in transcript if line["role"] == "customer"]
    if last_customer_text and (not customer_lines
                               or customer_lines[-1]["text"] != redact(last_customer_text)):
        transcript.append({"role": "customer", "text": redact(last_customer_text)[:5000],
                           "ts": (now or datetime.now(timezone.utc)).timestamp(), "intent": None})
    return _package(conversation_id=conversation_id, channel=channel, customer_id=customer_id,
                    transcript=transcript, tags=_intent_tags(session), slots=slots,
                    steps_tried=steps_tried, trigger_kind=trigger_kind,
                    trigger_detail=trigger_detail, now=now)


def package_from_transcript(*, conversation_id: str, channel: str, customer_id: str,
                            transcript: list[dict[str, Any]], trigger_kind: str,
                            trigger_detail: str, now: datetime | None = None) -> dict[str, Any]:
    """The package the gateway builds itself when the bot cannot (the Rasa server is down):
    from the gateway's transcript, with nothing known of intents, slots or steps."""
    return _package(conversation_id=conversation_id, channel=channel, customer_id=customer_id,
                    transcript=_lines(transcript), tags=[], slots={}, steps_tried=[],
                    trigger_kind=trigger_kind, trigger_detail=trigger_detail, now=now,
                    wants=UNAVAILABLE_WANTS, bot_did=UNAVAILABLE_DID)


def _lines(transcript: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gateway's transcript entries as package transcript lines, redacted."""
    return [{"role": e.get("role", "customer"), "text": redact(str(e.get("text", "")))[:5000],
             "ts": float(e.get("ts") or 0)} for e in transcript if e.get("text")]


def with_gateway_transcript(package: dict[str, Any],
                            transcript: list[dict[str, Any]]) -> dict[str, Any]:
    """The package with the gateway's own transcript of the conversation, when it holds more
    lines than the one the bot built: Rasa hands its actions a bounded tracker (the recent turns,
    bot/rasa_tracker_store.py), and an agent must still see the whole conversation."""
    lines = _lines(transcript)[-500:]
    own = package.get("transcript") or []
    if len(lines) <= len(own):
        return package
    # The bot's lines know what each recent customer message was understood as; keep that.
    intents = {line["text"]: line["intent"] for line in own
               if line.get("role") == "customer" and line.get("intent")}
    for line in lines:
        if line["role"] == "customer" and line["text"] in intents:
            line["intent"] = intents[line["text"]]
    customer_texts = [line["text"] for line in lines if line["role"] == "customer"]
    return {**package, "transcript": lines, "sentiment": summarise(customer_texts).to_dict()}


def _package(*, conversation_id: str, channel: str, customer_id: str,
             transcript: list[dict[str, Any]], tags: list[dict[str, Any]],
             slots: dict[str, Any], steps_tried: list[str], trigger_kind: str,
             trigger_detail: str | None, now: datetime | None, wants: str | None = None,
             bot_did: str | None = None) -> dict[str, Any]:
    transcript = transcript[-500:]
    customer_texts = [line["text"] for line in transcript if line["role"] == "customer"]
    contact = slots.get("order_contact") or slots.get("reset_login")
    steps = [redact(step)[:300] for step in steps_tried][-100:]
    last_customer = customer_texts[-1] if customer_texts else ""
    if bot_did is None:
        bot_did = "; ".join(steps) if steps else "answered without backend steps"
    return {
        "schema_version": SCHEMA_VERSION,
        "conversation_id": conversation_id,
        "channel": package_channel(channel),
        "customer": {
            "id": customer_id or conversation_id,
            "display_name": None,
            "contact_hint": redact(mask_email(str(contact))) if contact else None,
        },
        "trigger": {"kind": trigger_kind, "detail": (trigger_detail or None)},
        "summary": {
            "wants": (wants if wants is not None else _wants(tags))[:500],
            "bot_did": bot_did[:1000],
            "stopped_at": (f"{trigger_detail or trigger_kind}; last customer message: "
                           f"\"{last_customer[:200]}\"")[:500],
        },
        "slots": _shared_slots(slots),
        "intents": tags,
        "sentiment": summarise(customer_texts).to_dict(),
        "transcript": transcript,
        "steps_tried": steps,
        "created_at": (now or datetime.now(timezone.utc)).isoformat(),
    }
