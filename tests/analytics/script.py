"""Scripted conversations with known answers: raw events shaped exactly as Rasa's event broker
and the gateway publish them, turned into records by the real conversion (analytics/records.py).

THE_WEEK is the scripted week every figure test checks (tests/analytics/test_figures.py spells
out each expected value and why)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from analytics.records import Pseudonyms, Record, from_gateway, from_rasa

KEY = "a-test-pseudonym-key-of-some-length"  # also the gateway's in tests (gateway_settings.py)
PSEUDONYMS = Pseudonyms(KEY.encode())
T0 = datetime(2026, 11, 23, tzinfo=timezone.utc).timestamp()  # a Monday, 00:00 UTC
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
_ids = itertools.count(1)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return T0 + day * DAY + hour * HOUR + minute * MINUTE + second


@dataclass
class Conversation:
    conversation_id: str
    channel: str
    customer_id: str
    raw: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def user(self, ts: float, text: str, intent: str, *, confidence: float = 0.95,
             topic: str = "", sentiment: float | None = 0.0) -> Conversation:
        parse: dict[str, Any] = {"intent": {"name": intent, "confidence": confidence},
                                 "entities": [], "text": text}
        if topic:
            parse["response_selector"] = {"faq": {"response": {
                "intent_response_key": f"faq/{topic}", "confidence": 0.9}}}
        metadata: dict[str, Any] = {"channel": self.channel, "customer_id": self.customer_id,
                                    "conversation_id": self.conversation_id}
        if sentiment is not None:
            metadata["sentiment"] = sentiment
        self.raw.append(("rasa", {"sender_id": self.conversation_id, "event": "user",
                                  "timestamp": ts, "text": text, "parse_data": parse,
                                  "input_channel": "rest", "metadata": metadata}))
        return self

    def bot(self, ts: float, text: str = "ok", utter: str = "utter_answer") -> Conversation:
        self.raw.append(("rasa", {"sender_id": self.conversation_id, "event": "bot",
                                  "timestamp": ts, "text": text,
                                  "metadata": {"utter_action": utter}}))
        return self

    def action(self, ts: float, name: str) -> Conversation:
        self.raw.append(("rasa", {"sender_id": self.conversation_id, "event": "action",
                                  "timestamp": ts, "name": name}))
        return self

    def fallback(self, ts: float) -> Conversation:
        return self.action(ts, "action_default_fallback").bot(
            ts + 0.5, "Sorry, I didn't get that.", "utter_default")

    def gateway(self, ts: float, kind: str, **fields: Any) -> Conversation:
        self.raw.append(("gateway", {"event_id": f"E{next(_ids)}", "ts": ts, "kind": kind,
                                     "conversation_id": self.conversation_id,
                                     "customer_id": self.customer_id, "channel": self.channel,
                                     **fields}))
        return self

    def records(self) -> list[Record]:
        made = [from_rasa(body, PSEUDONYMS) if source == "rasa" else from_gateway(body, PSEUDONYMS)
                for source, body in self.raw]
        return [r for r in made if r is not None]


def the_week() -> list[Conversation]:
    c1 = (Conversation("web:a1", "web", "web:a1")  # contained; customer a comes back on day 2
          .user(at(0, 10), "hi", "greet", sentiment=0.3).bot(at(0, 10, 0, 1))
          .user(at(0, 10, 1), "how long does shipping take", "faq", topic="shipping_time",
                sentiment=0.1).bot(at(0, 10, 1, 1))
          .user(at(0, 10, 2), "bye", "goodbye", sentiment=0.2).bot(at(0, 10, 2, 1)))
    c2 = (Conversation("sms:+15550000002", "sms", "sms:+15550000002")  # escalated, resolved, rated 4
          .user(at(0, 11), "where is order 482913", "order_status", sentiment=0.2)
          .bot(at(0, 11, 0, 1))
          .user(at(0, 11, 1), "you are useless", "nlu_fallback", confidence=0.2,
                sentiment=-0.6).fallback(at(0, 11, 1, 1))
          .user(at(0, 11, 2), "talk to a person", "human_handoff", sentiment=0.0)
          .gateway(at(0, 11, 2, 1), "opened", case_id="C-1", trigger="customer_request")
          .gateway(at(0, 11, 3), "claimed", case_id="C-1", agent="ana@example.com")
          .gateway(at(0, 11, 4, 1), "agent_message", case_id="C-1", agent="ana@example.com",
                   text="Hi, Ana here")
          .gateway(at(0, 11, 10), "resolved", case_id="C-1", agent="ana@example.com")
          .gateway(at(0, 11, 10, 1), "csat_asked", case_id="C-1")
          .gateway(at(0, 11, 11), "rated", case_id="C-1", rating=4))
    c3 = (Conversation("telegram:303", "telegram", "telegram:303")  # two fallbacks, case, cancelled
          .user(at(1, 9), "asdf qwerty", "nlu_fallback", confidence=0.1, sentiment=0.0)
          .fallback(at(1, 9, 0, 1))
          .user(at(1, 9, 1), "asdf qwerty", "nlu_fallback", confidence=0.1, sentiment=-0.2)
          .fallback(at(1, 9, 1, 1))
          .gateway(at(1, 9, 2), "opened", case_id="C-2", trigger="repeated_fallback")
          .gateway(at(1, 9, 5), "cancelled", case_id="C-2"))
    c4 = (Conversation("web:a2", "web", "web:a1")  # customer a again: contained, idle
          .user(at(2, 10), "how do returns work", "faq", topic="returns", sentiment=0.1)
          .bot(at(2, 10, 0, 1)))
    c5 = (Conversation("slack:U5", "slack", "slack:U5")  # person after an FAQ answer, slow agent
          .user(at(2, 12), "what does shipping cost", "faq", topic="shipping_cost",
                sentiment=0.0).bot(at(2, 12, 0, 1))
          .user(at(2, 12, 1), "that's not what I asked, get me a human", "human_handoff",
                sentiment=-0.3)
          .gateway(at(2, 12, 1, 1), "opened", case_id="C-3", trigger="customer_request")
          .gateway(at(2, 12, 11, 1), "agent_message", case_id="C-3", agent="bo@example.com",
                   text="Sorry for the wait")
          .gateway(at(2, 12, 20), "resolved", case_id="C-3", agent="bo@example.com")
          .gateway(at(2, 12, 20, 1), "csat_asked", case_id="C-3"))
    c6 = (Conversation("web:f6", "web", "web:f6")  # bot resolved, sampled CSAT: 5
          .user(at(3, 15), "reset my password", "password_reset", sentiment=0.0)
          .bot(at(3, 15, 0, 1))
          .user(at(3, 15, 3), "thanks bye", "goodbye", sentiment=0.5).bot(at(3, 15, 3, 1))
          .gateway(at(3, 15, 3, 2), "csat_asked")
          .gateway(at(3, 15, 4), "rated", rating=5))
    c8 = (Conversation("web:h8", "web", "web:h8")  # nobody answered (Rasa was away)
          .user(at(4, 8), "hello?", "greet", sentiment=0.0))
    c7 = (Conversation("sms:+15550000007", "sms", "sms:+15550000007")  # still going at the end
          .user(at(6, 23, 50), "where is my order", "order_status", sentiment=0.0)
          .bot(at(6, 23, 50, 1)))
    return [c1, c2, c3, c4, c5, c6, c8, c7]


def records_of(conversations: list[Conversation]) -> list[Record]:
    return [r for c in conversations for r in c.records()]


WEEK_END = at(7, 0)
