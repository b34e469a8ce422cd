"""Held-out NLU report: parses the held-out files (never used in training) with the trained model
and computes in-scope accuracy, out-of-scope recall, the share of in-scope messages the
FallbackClassifier rejected, and macro-F1 over full intents (FAQ topics included, e.g.
faq/shipping_time).

- tests/nlu/heldout.yml: messages the way customers type on SMS, Slack and web chat;
- tests/nlu/heldout_styles.yml: formal e-mails, non-native English, rambling and two-topic
  messages, indirect phrasing (written by a different method, before the data was broadened).

`python -m tests.nlu.heldout_report [model.tar.gz]` (make nlu-report) prints both reports, the
per-intent precision/recall/F1 (worst first), the worst confusions and the errors, and writes each
file's confusion matrix as a PNG to var/nlu-report/."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HELDOUT = Path(__file__).parent / "heldout.yml"
HELDOUT_STYLES = Path(__file__).parent / "heldout_styles.yml"
HELDOUT_FILES = (HELDOUT, HELDOUT_STYLES)
REPORT_DIR = Path(__file__).resolve().parents[2] / "var" / "nlu-report"
FALLBACK_LIKE = {"out_of_scope", "nlu_fallback"}


@dataclass(frozen=True)
class IntentScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    total: int
    in_scope_accuracy: float
    out_of_scope_recall: float
    in_scope_fallback_rate: float
    macro_f1: float
    confusions: Counter[tuple[str, str]]
    errors: list[tuple[str, str, str]]
    per_intent: dict[str, IntentScore] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (expected, predicted)

    def intent_table(self) -> str:
        width = max([len(k) for k in self.per_intent] + [6])
        lines = [f"  {'intent'.ljust(width)}  precision  recall     F1  support"]
        for name, s in sorted(self.per_intent.items(), key=lambda kv: (kv[1].f1, kv[0])):
            lines.append(f"  {name.ljust(width)}  {s.precision:9.3f}  {s.recall:6.3f}  "
                         f"{s.f1:5.3f}  {s.support:7d}")
        return "\n".join(lines)

    def render(self) -> str:
        lines = [
            f"held-out examples: {self.total}",
            f"in-scope intent accuracy: {self.in_scope_accuracy:.3f}",
            f"out_of_scope recall:      {self.out_of_scope_recall:.3f}",
            f"in-scope fallback rate:   {self.in_scope_fallback_rate:.3f}",
            f"macro-F1 (all intents):   {self.macro_f1:.3f}",
            "most common confusions (expected -> predicted):",
        ]
        lines += [f"  {n:3d}  {e} -> {p}" for (e, p), n in self.confusions.most_common(12)]
        return "\n".join(lines)


def load_examples(path: Path = HELDOUT) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get_full_intent()) for m in data.intent_examples]


def full_intent(parsed: dict) -> str:
    name = (parsed.get("intent") or {}).get("name") or "nlu_fallback"
    if name == "faq":
        key = (((parsed.get("response_selector") or {}).get("faq") or {}).get("response") or {}).get(
            "intent_response_key")
        return key or "faq"
    return name


def score(pairs: list[tuple[str, str, str]]) -> Report:
    """pairs: (text, expected, predicted); nlu_fallback counts as out_of_scope."""
    rejected = [p == "nlu_fallback" for _, e, p in pairs if e != "out_of_scope"]
    norm = [(t, e, "out_of_scope" if p in FALLBACK_LIKE else p) for t, e, p in pairs]
    in_scope = [(e, p) for _, e, p in norm if e != "out_of_scope"]
    oos = [(e, p) for _, e, p in norm if e == "out_of_scope"]
    labels = sorted({e for _, e, _ in norm})
    f1s = []
    per_intent = {}
    for label in labels:
        tp = sum(1 for _, e, p in norm if e == label and p == label)
        fp = sum(1 for _, e, p in norm if e != label and p == label)
        fn = sum(1 for _, e, p in norm if e == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_intent[label] = IntentScore(precision, recall, f1, tp + fn)
    errors = [(t, e, p) for t, e, p in norm if e != p]
    return Report(
        total=len(norm),
        in_scope_accuracy=sum(e == p for e, p in in_scope) / max(len(in_scope), 1),
        out_of_scope_recall=sum(p == "out_of_scope" for _, p in oos) / max(len(oos), 1),
        in_scope_fallback_rate=sum(rejected) / max(len(rejected), 1),
        macro_f1=sum(f1s) / max(len(f1s), 1),
        confusions=Counter((e, p) for _, e, p in errors),
        errors=errors,
        per_intent=per_intent,
        pairs=[(e, p) for _, e, p in norm],
    )


def confusion_png(report: Report, path: Path, *, title: str) -> Path:
    """The confusion matrix (rows: expected, columns: predicted) as a picture, each row as
    shares of its support, so a small intent's mistakes show as clearly as a large one's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({e for e, _ in report.pairs} | {p for _, p in report.pairs})
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for expected, predicted in report.pairs:
        counts[index[expected]][index[predicted]] += 1
    shares = [[n / max(sum(row), 1) for n in row] for row in counts]
    size = max(6.0, 0.38 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            if n:
                ax.text(j, i, str(n), ha="center", va="center", fontsize=6,
                        color="white" if shares[i][j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def raw_top(parsed: dict) -> tuple[str, float]:
    """The best intent before the FallbackClassifier, with its confidence (for threshold sweeps)."""
    ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
    if not ranking:
        return full_intent(parsed), float((parsed.get("intent") or {}).get("confidence") or 0)
    best = ranking[0]
    name = full_intent({**parsed, "intent": best})
    return name, float(best.get("confidence") or 0)


async def parse_all(model: Path, examples: list[tuple[str, str]]) -> list[tuple[str, str, dict]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [(text, expected, await agent.parse_message(text)) for text, expected in examples]


async def evaluate(model: Path, examples: list[tuple[str, str]] | None = None) -> Report:
    parsed = await parse_all(model, examples or load_examples())
    return score([(text, expected, full_intent(p)) for text, expected, p in parsed])


async def evaluate_files(model: Path, files: tuple[Path, ...] = HELDOUT_FILES) -> dict[str, Report]:
    """One report per held-out file, from one loaded model."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    reports = {}
    for path in files:
        pairs = [(text, expected, full_intent(await agent.parse_message(text)))
                 for text, expected in load_examples(path)]
        reports[path.name] = score(pairs)
    return reports


def sweep(parsed: list[tuple[str, str, dict]], thresholds: list[float]) -> list[str]:
    lines = []
    for threshold in thresholds:
        pairs = []
        for text, expected, p in parsed:
            name, confidence = raw_top(p)
            pairs.append((text, expected, name if confidence >= threshold else "nlu_fallback"))
        r = score(pairs)
        lines.append(f"  threshold {threshold:.2f}: in-scope accuracy {r.in_scope_accuracy:.3f}, "
                     f"out_of_scope recall {r.out_of_scope_recall:.3f}, macro-F1 {r.macro_f1:.3f}")
    return lines


def main() -> None:
    from bot.model_cache import ensure_model

    model = Path(sys.argv[1]) if len(sys.argv) > 1 else ensure_model()
    for path in HELDOUT_FILES:
        parsed = asyncio.run(parse_all(model, load_examples(path)))
        report = score([(text, expected, full_intent(p)) for text, expected, p in parsed])
        print(f"=== {path.name}")
        print(report.render())
        print("per intent (worst F1 first):")
        print(report.intent_table())
        picture = confusion_png(report, REPORT_DIR / f"confusion-{path.stem}.png",
                                title=f"Confusions on {path.name}")
        print(f"confusion matrix: {picture}")
        print("FallbackClassifier threshold sweep (the configured threshold is in config.yml):")
        print("\n".join(sweep(parsed, [0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8])))
        print("errors:")
        for text, expected, predicted in report.errors:
            print(f"  [{expected} -> {predicted}] {text}")


if __name__ == "__main__":
    main()
