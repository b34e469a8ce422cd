"""Escalation triggers: the rules of escalation.yml and sentiment thresholds."""

from __future__ import annotations

import pytest

from bot.escalation import EscalationPolicy
from bot.sentiment import score
from bot.settings import SettingsError

POLICY = EscalationPolicy.load()


@pytest.mark.parametrize("text, rule", [
    ("I was charged twice for one order", "billing dispute"),
    ("im going to file a chargeback with my bank", "billing dispute"),
    ("my lawyer will hear about this", "legal threat"),
    ("see you in court", "legal threat"),
    ("I use a screen reader and the checkout doesnt work", "accessibility"),
    ("im hard of hearing so i cant call", "accessibility"),
])
def test_rules_fire_on_their_keywords(text: str, rule: str) -> None:
    trigger = POLICY.evaluate(text=text, scores=[score(text)])
    assert trigger is not None and trigger.kind == "rule" and rule in trigger.detail


@pytest.mark.parametrize("text", [
    "where is my order", "the courtyard bench arrived", "can i pay with paypal",
    "how long does shipping take",
])
def test_ordinary_messages_do_not_escalate(text: str) -> None:
    assert POLICY.evaluate(text=text, scores=[score(text)]) is None


def test_one_strongly_negative_message_escalates() -> None:
    text = "this is the worst most useless service ever, absolutely disgusting"
    trigger = POLICY.evaluate(text=text, scores=[score(text)])
    assert trigger is not None and trigger.kind == "negative_sentiment"


def test_sustained_negativity_escalates_where_one_message_would_not() -> None:
    texts = ["this is annoying", "im really disappointed", "this is bad"]
    scores = [score(t) for t in texts]
    assert POLICY.evaluate(text=texts[-1], scores=scores[-1:]) is None
    trigger = POLICY.evaluate(text=texts[-1], scores=scores)
    assert trigger is not None and "sustained" in trigger.detail


def test_vip_customers_escalate() -> None:
    trigger = POLICY.evaluate(text="hello", scores=[0.0], vip=True)
    assert trigger is not None and "VIP" in trigger.detail


def test_intent_rules_respect_their_confidence() -> None:
    policy = EscalationPolicy.from_dict({"rules": [
        {"name": "angry", "intents": ["complaint"], "min_confidence": 0.9}]})
    assert policy.needs_intent
    assert policy.evaluate(text="x", scores=[0.0], intent="complaint", confidence=0.95)
    assert policy.evaluate(text="x", scores=[0.0], intent="complaint", confidence=0.5) is None


@pytest.mark.parametrize("rules", [[{"keywords": ["x"]}], [{"name": "empty"}]])
def test_malformed_rules_are_refused_with_a_clear_error(rules: list) -> None:
    with pytest.raises(SettingsError):
        EscalationPolicy.from_dict({"rules": rules})
