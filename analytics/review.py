"""`make review`: what a trainer should look at, exported from the analytics database into
data/review/candidates.yml in Rasa's NLU YAML format (so accepting an example is copying its
line into an intent in data/), grouped by the intent it probably means:

- messages an agent relabelled (console or Slack inbox): under the intent the agent chose;
- low-confidence predictions: under the predicted intent, to confirm or move;
- messages the bot did not understand (fallbacks) and the message right before a customer asked
  for a person: under `unsure`, to move to the intent they mean (or to out_of_scope).

Texts are redacted (they come from the analytics store), de-duplicated (case, spacing and final
punctuation aside), and never proposed again once decided. A trainer decides by editing
candidates.yml: copying an example into data/ accepts it; deleting its line rejects it. The next
`make review` records both in data/review/decisions.yml (accepted: found in data/; rejected:
gone from candidates.yml and not in data/) before writing the new candidates. data/review/ is
never trained on (bot/model_cache.py)."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Iterable

import yaml

from analytics.episodes import episodes
from analytics.records import FALLBACK_INTENT, Kind, Record

LOW_CONFIDENCE = 0.6
UNSURE = "unsure"
HANDOFF_INTENTS = frozenset({"human_handoff"})


class Reason(StrEnum):
    RELABELLED = "relabelled by an agent"
    LOW_CONFIDENCE = "low confidence"
    FALLBACK = "not understood"
    BEFORE_HANDOFF = "right before asking for a person"


@dataclass(frozen=True)
class Candidate:
    text: str
    intent: str
    reason: Reason
    confidence: float | None = None


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" .!?").lower()


def text_key(text: str) -> str:
    """What the decisions remember of a text: its hash, not its words (a customer who has
    their data erased later leaves nothing here)."""
    return hashlib.sha256(normalised(text).encode("utf-8")).hexdigest()[:20]


def candidates(records: Iterable[Record], *, now: float,
               low_confidence: float = LOW_CONFIDENCE) -> list[Candidate]:
    """Every candidate, strongest reason first for a text proposed for several."""
    found: list[Candidate] = []
    for episode in episodes(records, now=now):
        missed = {id(r) for r in episode.fallbacks()}
        users = episode.of(Kind.USER)
        for record in episode.of(Kind.RELABELLED):
            if record.text and record.intent:
                found.append(Candidate(record.text, record.intent, Reason.RELABELLED))
        for i, record in enumerate(users):
            if not record.text:
                continue
            if id(record) in missed:
                found.append(Candidate(record.text, UNSURE, Reason.FALLBACK, record.confidence))
            elif record.confidence is not None and record.confidence < low_confidence \
                    and record.intent != FALLBACK_INTENT:
                found.append(Candidate(record.text, _full(record), Reason.LOW_CONFIDENCE,
                                       record.confidence))
            if i + 1 < len(users) and users[i + 1].intent in HANDOFF_INTENTS \
                    and record.intent not in HANDOFF_INTENTS:
                found.append(Candidate(record.text, UNSURE, Reason.BEFORE_HANDOFF,
                                       record.confidence))
    order = list(Reason)
    best: OrderedDict[str, Candidate] = OrderedDict()
    for candidate in sorted(found, key=lambda c: order.index(c.reason)):
        best.setdefault(normalised(candidate.text), candidate)
    return list(best.values())


def _full(record: Record) -> str:
    return f"faq/{record.topic}" if record.intent == "faq" and record.topic else record.intent


def known_intents(root: Path) -> list[str]:
    """What a message can be relabelled as: the domain's intents, each FAQ as faq/<topic>."""
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    intents = {str(i if isinstance(i, str) else next(iter(i))) for i in domain.get("intents") or []}
    topics = {str(b["intent"]) for b in (yaml.safe_load(
        (root / "data" / "faq.yml").read_text(encoding="utf-8")) or {}).get("nlu") or []
        if isinstance(b, dict) and str(b.get("intent", "")).startswith("faq/")}
    return sorted((intents - {"faq"}) | topics)


# --- the files ----------------------------------------------------------------------------------
@dataclass
class Decisions:
    accepted: dict[str, str]   # text key -> the intent it went to
    rejected: set[str]         # text keys

    @classmethod
    def load(cls, path: Path) -> Decisions:
        if not path.exists():
            return cls({}, set())
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(dict(data.get("accepted") or {}), set(data.get("rejected") or []))

    def save(self, path: Path) -> None:
        path.write_text("# Written by `make review`: the trainer's decisions on earlier "
                        "candidates (never proposed again), by a hash of each text.\n"
                        + yaml.safe_dump(
                            {"accepted": dict(sorted(self.accepted.items())),
                             "rejected": sorted(self.rejected)}, allow_unicode=True,
                            sort_keys=False), encoding="utf-8")


def training_examples(files: Iterable[Path]) -> dict[str, str]:
    """text key -> full intent, of every NLU example in the training files."""
    found: dict[str, str] = {}
    for path in files:
        if path.suffix not in (".yml", ".yaml"):
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    found[text_key(_strip_entities(line[2:]))] = str(block["intent"])
    return found


def _strip_entities(text: str) -> str:
    # [482913](order_id) -> 482913
    return re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", lambda m: m.group(1) or m.group(2) or "", text)


def previous_candidates(path: Path) -> set[str]:
    if not path.exists():
        return set()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    texts = set()
    for block in data.get("nlu") or []:
        for line in str((block or {}).get("examples") or "").splitlines():
            if line.strip().startswith("- "):
                texts.add(text_key(line.strip()[2:]))
    return texts


@dataclass(frozen=True)
class ReviewRun:
    written: int
    newly_accepted: int
    newly_rejected: int
    skipped_decided: int


def run(found: list[Candidate], *, review_dir: Path, training_files: Iterable[Path],
        proposed_before: set[str] | None = None) -> ReviewRun:
    """Record the trainer's decisions on the last candidates, then write the new ones."""
    review_dir.mkdir(parents=True, exist_ok=True)
    candidates_path = review_dir / "candidates.yml"
    decisions_path = review_dir / "decisions.yml"
    decisions = Decisions.load(decisions_path)
    in_data = training_examples(training_files)
    before = previous_candidates(candidates_path) if proposed_before is None else proposed_before
    shown_last_time = _shown(review_dir)
    accepted = rejected = 0
    for text in shown_last_time:
        if text in decisions.accepted or text in decisions.rejected:
            continue
        if text in in_data:
            decisions.accepted[text] = in_data[text]
            accepted += 1
        elif text not in before:
            decisions.rejected.add(text)
            rejected += 1
    fresh, skipped = [], 0
    for candidate in found:
        key = text_key(candidate.text)
        if key in in_data or key in decisions.accepted or key in decisions.rejected:
            skipped += 1
            continue
        fresh.append(candidate)
    decisions.save(decisions_path)
    candidates_path.write_text(render(fresh), encoding="utf-8")
    (review_dir / ".shown").write_text("\n".join(sorted(text_key(c.text) for c in fresh)) + "\n",
                                       encoding="utf-8")
    return ReviewRun(len(fresh), accepted, rejected, skipped)


def _shown(review_dir: Path) -> set[str]:
    path = review_dir / ".shown"
    return set(filter(None, path.read_text(encoding="utf-8").splitlines())) if path.exists() else set()


def render(found: list[Candidate]) -> str:
    """One block per intent and reason, the reason as a comment above it (a comment inside
    `examples: |` would be part of the examples)."""
    order = list(Reason)
    groups: OrderedDict[tuple[str, Reason], list[Candidate]] = OrderedDict()
    for candidate in sorted(found, key=lambda c: (c.intent == UNSURE, c.intent,
                                                  order.index(c.reason))):
        groups.setdefault((candidate.intent, candidate.reason), []).append(candidate)
    lines = ['version: "3.1"',
             "# Candidates for the NLU data (make review). Accept an example by copying its line",
             "# into that intent in data/ (nlu.yml, faq.yml); reject it by deleting its line here.",
             f"# `{UNSURE}`: the bot did not know; move each to the intent it means.",
             "# Never trained on: bot/model_cache.py leaves data/review/ out.", "nlu:"]
    for (intent, reason), items in groups.items():
        confidences = [f"{c.confidence:.2f}" for c in items if c.confidence is not None]
        lines.append(f"# {reason.value}" + (f" (confidence {', '.join(confidences)})"
                                            if confidences else ""))
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines += [f"    - {' '.join(c.text.split())}" for c in items]
    return "\n".join(lines) + "\n"
