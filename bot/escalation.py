"""Escalation triggers the gateway evaluates on every customer message: strong or sustained
negative sentiment, and the rules of escalation.yml (keywords, intents, VIP customers).

Pure and framework-neutral: `EscalationPolicy.evaluate` takes what is known about the message and
the conversation and returns the trigger that fired, or None."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import SettingsError

DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "escalation.yml"


@dataclass(frozen=True)
class Trigger:
    kind: str  # negative_sentiment or rule
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class Rule:
    name: str
    detail: str
    pattern: re.Pattern[str] | None = None
    intents: frozenset[str] = frozenset()
    min_confidence: float = 0.0
    vip: bool = False


@dataclass(frozen=True)
class EscalationPolicy:
    strong_negative: float = -0.75
    sustained_negative: float = -0.4
    window: int = 3
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @property
    def needs_intent(self) -> bool:
        return any(rule.intents for rule in self.rules)

    @property
    def needs_vip(self) -> bool:
        return any(rule.vip for rule in self.rules)

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES_FILE) -> EscalationPolicy:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"cannot read escalation rules {path}: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "rules") -> EscalationPolicy:
        sentiment = data.get("sentiment") or {}
        rules = []
        for raw in data.get("rules") or []:
            if not isinstance(raw, dict) or not raw.get("name"):
                raise SettingsError(f"{source}: every rule needs a name: {raw!r}")
            keywords = [str(k).strip().lower() for k in raw.get("keywords") or [] if str(k).strip()]
            pattern = (re.compile(r"(?<!\w)(?:" + "|".join(re.escape(k) for k in keywords) + r")(?!\w)",
                                  re.IGNORECASE) if keywords else None)
            rule = Rule(name=str(raw["name"]), detail=str(raw.get("detail") or raw["name"]),
                        pattern=pattern, intents=frozenset(raw.get("intents") or ()),
                        min_confidence=float(raw.get("min_confidence") or 0.0),
                        vip=bool(raw.get("vip")))
            if not (rule.pattern or rule.intents or rule.vip):
                raise SettingsError(f"{source}: rule {rule.name} has no keywords, intents or vip")
            rules.append(rule)
        return cls(strong_negative=float(sentiment.get("strong_negative", -0.75)),
                   sustained_negative=float(sentiment.get("sustained_negative", -0.4)),
                   window=int(sentiment.get("window", 3)), rules=tuple(rules))

    def evaluate(self, *, text: str, scores: list[float], intent: str | None = None,
                 confidence: float = 0.0, vip: bool = False) -> Trigger | None:
        """scores: sentiment of the conversation's customer messages, this one last."""
        for rule in self.rules:
            if rule.pattern is not None and rule.pattern.search(text):
                return Trigger("rule", f"{rule.detail} (said: \"{rule.pattern.search(text).group(0)}\")")  # type: ignore[union-attr]
            if rule.intents and intent in rule.intents and confidence >= rule.min_confidence:
                return Trigger("rule", f"{rule.detail} (intent {intent} {confidence:.2f})")
            if rule.vip and vip:
                return Trigger("rule", rule.detail)
        if scores and scores[-1] <= self.strong_negative:
            return Trigger("negative_sentiment", f"strongly negative message (score {scores[-1]:.2f})")
        recent = scores[-self.window:]
        if len(recent) >= self.window and sum(recent) / len(recent) <= self.sustained_negative:
            return Trigger("negative_sentiment",
                           f"sustained negative sentiment (average {sum(recent) / len(recent):.2f} "
                           f"over {len(recent)} messages)")
        return None
