"""The trained model on two held-out files it never saw (tests/nlu/heldout_report.py): one
written the way customers type on SMS, Slack and web chat, one in registers our data rarely had
(formal e-mails, non-native English, rambling and two-topic messages, indirect phrasing)."""

from __future__ import annotations

import asyncio

import pytest

from bot.model_cache import ensure_model
from tests.nlu.heldout_report import HELDOUT_FILES, Report, evaluate_files

IN_SCOPE_ACCURACY_TARGET = 0.95
OUT_OF_SCOPE_RECALL_TARGET = 0.85
IN_SCOPE_FALLBACK_LIMIT = 0.03
FILES = [path.name for path in HELDOUT_FILES]


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return asyncio.run(evaluate_files(ensure_model()))


@pytest.mark.parametrize("name, at_least", [("heldout.yml", 250), ("heldout_styles.yml", 200)])
def test_heldout_report_is_printed(reports: dict[str, Report], name: str, at_least: int,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n=== {name}\n" + reports[name].render())
    assert reports[name].total >= at_least


@pytest.mark.parametrize("name", FILES)
def test_in_scope_intent_accuracy_meets_target(reports: dict[str, Report], name: str) -> None:
    assert reports[name].in_scope_accuracy >= IN_SCOPE_ACCURACY_TARGET, reports[name].render()


@pytest.mark.parametrize("name", FILES)
def test_out_of_scope_recall_meets_target(reports: dict[str, Report], name: str) -> None:
    assert reports[name].out_of_scope_recall >= OUT_OF_SCOPE_RECALL_TARGET, reports[name].render()


@pytest.mark.parametrize("name", FILES)
def test_few_in_scope_messages_fall_back(reports: dict[str, Report], name: str) -> None:
    assert reports[name].in_scope_fallback_rate < IN_SCOPE_FALLBACK_LIMIT, reports[name].render()
