"""The one shape every stored analytics event has, built from Rasa's tracker events and the
gateway's case events, with its idempotency key (docs/analytics.md, "Idempotency").

Nothing identifying is kept: conversation and customer ids become keyed pseudonyms (HMAC, so the
deletion flow can find a customer's rows again while nobody can enumerate phone numbers back out
of them), texts go through the project's one redaction component, and only the fields a figure
or a trainer needs are kept."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Mapping

from bot.redaction import redact
from bot.state import CaseEventKind

TEXT_LIMIT = 300
FALLBACK_INTENT = "nlu_fallback"
WRONG_ANSWER = "wrong_answer"
FAQ_INTENT = "faq"
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback",
                              "utter_default", "utter_ask_rephrase"})
# Tracker events nobody counts: Rasa's bookkeeping, and slots (their values are customer data).
_IGNORED_RASA_EVENTS = frozenset({"slot", "active_loop", "loop_interrupted", "action_execution_rejected",
                                  "rewind", "undo", "restart", "followup", "reminder", "cancel_reminder",
                                  "entities", "export", "pause", "resume", "user_featurization",
                                  "stack", "routing_session_ended", "reset_slots",
                                  "agent", "wrong_utterance", "wrong_action", "bot_utterance"})


class Source(StrEnum):
    RASA = "rasa"
    GATEWAY = "gateway"


class Kind(StrEnum):
    """What happened. Rasa's: a customer message, a bot message, an action, a new session.
    The gateway's: case lifecycle, messages inside a case, and the satisfaction question."""

    USER = "user"
    BOT = "bot"
    ACTION = "action"
    SESSION_STARTED = "session_started"
    CASE_OPENED = "case_opened"
    CASE_CLAIMED = "case_claimed"
    CASE_CUSTOMER_MESSAGE = "case_customer_message"
    AGENT_MESSAGE = "agent_message"
    CASE_RETURNED = "case_returned"
    CASE_RESOLVED = "case_resolved"
    CASE_CANCELLED = "case_cancelled"
    FOLLOW_UP = "follow_up"
    CSAT_ASKED = "csat_asked"
    RATED = "rated"
    RELABELLED = "relabelled"


@dataclass(frozen=True, slots=True)
class Pseudonyms:
    """Keyed pseudonyms for ids: the same id always maps to the same value under one key."""

    key: bytes = field(repr=False)

    def of(self, identifier: str | None) -> str:
        if not identifier:
            return ""
        return hmac.new(self.key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Record:
    event_key: str
    source: Source
    kind: Kind
    ts: float
    conversation: str
    customer: str = ""
    channel: str = ""
    intent: str = ""
    confidence: float | None = None
    topic: str = ""       # the FAQ topic (faq/<topic>) of a customer message or a handoff
    text: str = ""        # redacted, at most TEXT_LIMIT characters
    sentiment: float | None = None
    case_id: str = ""
    trigger: str = ""     # a handoff's trigger kind
    rating: int | None = None
    action: str = ""
    agent: str = ""       # pseudonym

    def row(self) -> dict[str, Any]:
        values = asdict(self)
        values["source"], values["kind"] = str(self.source), str(self.kind)
        return values

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Record:
        values = {k: row[k] for k in RECORD_FIELDS}
        values["source"], values["kind"] = Source(values["source"]), Kind(values["kind"])
        return cls(**values)

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> Record:
        """A record as the project's publishers send it through RabbitMQ (row()); ValueError
        for anything else, so a bad message is refused instead of stored half-typed."""
        try:
            record = cls.from_row(body)
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"not an analytics record: {type(exc).__name__}") from None
        for name, kind in _WIRE_TYPES.items():
            value = getattr(record, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"not an analytics record: {name}")
        if not (math.isfinite(record.ts) and len(record.event_key) == 32):
            raise ValueError("not an analytics record: ts or event_key")
        return replace(record, text=record.text[:TEXT_LIMIT])


RECORD_FIELDS = tuple(Record.__dataclass_fields__)
_WIRE_TYPES: dict[str, type | tuple[type, ...]] = {
    **{name: str for name in RECORD_FIELDS if name not in ("ts", "confidence", "sentiment",
                                                           "rating", "source", "kind")},
    "ts": (int, float), "confidence": (int, float, type(None)),
    "sentiment": (int, float, type(None)), "rating": (int, type(None))}


def event_key(source: Source, stream: str, kind: str, ts: float, body: Mapping[str, Any]) -> str:
    """The idempotency key: a hash of where the event comes from (source and its stream: the
    Rasa sender id or the case id), its type, its timestamp to the microsecond, and its body as
    canonical JSON. A redelivery or replay of the same event has the same key; two different
    events in one conversation differ in timestamp or body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    material = "\x1f".join((str(source), stream, kind, f"{ts:.6f}", canonical))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _text(value: Any) -> str:
    return redact(str(value or ""))[:TEXT_LIMIT]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def from_rasa(event: Mapping[str, Any], pseudonyms: Pseudonyms) -> Record | None:
    """A tracker event as Rasa's event broker publishes it ({"sender_id": ..., "event": ...}),
    or None for events no figure uses."""
    kind_name = str(event.get("event") or "")
    sender = str(event.get("sender_id") or "")
    ts = _number(event.get("timestamp"))
    if not sender or ts is None or kind_name in _IGNORED_RASA_EVENTS:
        return None
    base = {"event_key": event_key(Source.RASA, sender, kind_name, ts, event),
            "source": Source.RASA, "ts": ts, "conversation": pseudonyms.of(sender)}
    if kind_name == "user":
        metadata = event.get("metadata") or {}
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        return Record(**base, kind=Kind.USER,
                      customer=pseudonyms.of(metadata.get("customer_id") or sender),
                      channel=str(metadata.get("channel") or event.get("input_channel") or ""),
                      intent=str(intent.get("name") or ""),
                      confidence=_number(intent.get("confidence")),
                      # The response selector ranks FAQ answers for every message: its pick
                      # is a topic only when the intent is the FAQ one.
                      topic=_faq_topic(parse) if intent.get("name") == FAQ_INTENT else "",
                      text=_text(metadata.get("customer_text") or event.get("text")),
                      sentiment=_number(metadata.get("sentiment")))
    if kind_name == "bot":
        metadata = event.get("metadata") or {}
        return Record(**base, kind=Kind.BOT, text=_text(event.get("text")),
                      action=str(metadata.get("utter_action") or ""))
    if kind_name == "action":
        name = str(event.get("name") or "")
        if name in ("", "action_listen", "action_session_start"):
            return None
        return Record(**base, kind=Kind.ACTION, action=name)
    if kind_name == "session_started":
        return Record(**base, kind=Kind.SESSION_STARTED)
    return None


def _faq_topic(parse: Mapping[str, Any]) -> str:
    selector = (parse.get("response_selector") or {}).get("faq") or {}
    key = str((selector.get("response") or {}).get("intent_response_key") or "")
    return key.partition("/")[2] if key.startswith("faq/") else ""


# The gateway's case event kinds (bot/state.py CaseEventKind) as analytics kinds; the others
# (erasure, undelivered notices) are not figures.
_CASE_KINDS: dict[str, Kind] = {
    CaseEventKind.OPENED: Kind.CASE_OPENED, CaseEventKind.CLAIMED: Kind.CASE_CLAIMED,
    CaseEventKind.CUSTOMER_MESSAGE: Kind.CASE_CUSTOMER_MESSAGE,
    CaseEventKind.AGENT_MESSAGE: Kind.AGENT_MESSAGE, CaseEventKind.RETURNED: Kind.CASE_RETURNED,
    CaseEventKind.RESOLVED: Kind.CASE_RESOLVED, CaseEventKind.CANCELLED: Kind.CASE_CANCELLED,
    CaseEventKind.RATED: Kind.RATED, CaseEventKind.FOLLOW_UP_CONTACT: Kind.FOLLOW_UP,
    # The gateway's own, outside the case lifecycle: spelled as the analytics kind.
    Kind.CSAT_ASKED: Kind.CSAT_ASKED, Kind.RELABELLED: Kind.RELABELLED}


def from_gateway(message: Mapping[str, Any], pseudonyms: Pseudonyms) -> Record | None:
    """A gateway event as bot/analytics_events.py makes it: {"event_id", "ts", "kind",
    "conversation_id", "customer_id", "channel", ...}. The event id names the event: a case's
    lifecycle events (opened, claimed, closed, rated) have the case's and the kind's, so the same
    event emitted twice is one row; messages get a fresh one each."""
    kind = _CASE_KINDS.get(str(message.get("kind") or ""))
    ts = _number(message.get("ts"))
    conversation_id = str(message.get("conversation_id") or "")
    if kind is None or ts is None or not conversation_id:
        return None
    rating = message.get("rating")
    return Record(
        # The gateway's own id names the event (its time may differ if it is emitted again).
        event_key=event_key(Source.GATEWAY, str(message.get("event_id") or ""), str(kind), 0.0, {}),
        source=Source.GATEWAY, kind=kind, ts=ts,
        conversation=pseudonyms.of(conversation_id),
        customer=pseudonyms.of(message.get("customer_id") or conversation_id),
        channel=str(message.get("channel") or ""),
        intent=str(message.get("intent") or ""),
        topic=str(message.get("topic") or ""),
        text=_text(message.get("text")),
        case_id=str(message.get("case_id") or ""),
        trigger=str(message.get("trigger") or ""),
        rating=int(rating) if isinstance(rating, int) and 1 <= rating <= 5 else None,
        # A relabel's verdict on the bot's answer (the only action a gateway event names).
        action=WRONG_ANSWER if message.get("wrong_answer") is True else "",
        agent=pseudonyms.of(message.get("agent")),
    )
