"""The NLU report's per-intent figures and confusion picture, on a hand-made set of predictions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nlu.heldout_report import confusion_png, score

PAIRS = [  # (text, expected, predicted)
    ("a", "greet", "greet"), ("b", "greet", "greet"), ("c", "greet", "thank"),
    ("d", "thank", "thank"), ("e", "faq/warranty", "faq/return_policy"),
    ("f", "faq/return_policy", "faq/return_policy"), ("g", "out_of_scope", "nlu_fallback"),
]


def test_precision_recall_and_f1_per_intent() -> None:
    report = score(PAIRS)
    greet, thank = report.per_intent["greet"], report.per_intent["thank"]
    assert (greet.precision, greet.recall, greet.support) == (1.0, pytest.approx(2 / 3), 3)
    assert greet.f1 == pytest.approx(0.8)
    assert (thank.precision, thank.recall) == (0.5, 1.0)
    assert report.per_intent["faq/warranty"].f1 == 0.0
    assert report.per_intent["out_of_scope"].recall == 1.0  # nlu_fallback counts as out of scope


def test_the_table_lists_the_worst_intent_first() -> None:
    lines = score(PAIRS).intent_table().splitlines()
    assert lines[1].split()[0] == "faq/warranty"


def test_the_confusion_matrix_is_a_png(tmp_path: Path) -> None:
    path = confusion_png(score(PAIRS), tmp_path / "confusion.png", title="test")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000
