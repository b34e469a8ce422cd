"""The trained model on held-out messages written the way customers type (never trained on)."""

from __future__ import annotations

import asyncio

import pytest

from bot.model_cache import ensure_model
from tests.nlu.heldout_report import evaluate

IN_SCOPE_ACCURACY_TARGET = 0.95
OUT_OF_SCOPE_RECALL_TARGET = 0.80


@pytest.fixture(scope="module")
def report():
    return asyncio.run(evaluate(ensure_model()))


def test_heldout_report_is_printed(report, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print("\n" + report.render())
    assert report.total >= 250


def test_in_scope_intent_accuracy_meets_target(report) -> None:
    assert report.in_scope_accuracy >= IN_SCOPE_ACCURACY_TARGET, report.render()


def test_out_of_scope_recall_meets_target(report) -> None:
    assert report.out_of_scope_recall >= OUT_OF_SCOPE_RECALL_TARGET, report.render()
