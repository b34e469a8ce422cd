"""The held-out files stay held out (README, for trainers): no held-out message is in the
training data, word for word (case, spacing and trailing punctuation aside)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.nlu.heldout_report import HELDOUT_FILES, load_examples

DATA = Path(__file__).resolve().parents[2] / "data"


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" .!?").lower()


def training_texts() -> set[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    texts: set[str] = set()
    for path in sorted(DATA.glob("*.yml")):
        if "nlu:" not in path.read_text():  # rules and stories hold no examples
            continue
        texts |= {normalised(m.get("text")) for m in load_data(str(path)).intent_examples}
    return texts


@pytest.mark.parametrize("heldout", HELDOUT_FILES, ids=lambda p: p.name)
def test_no_heldout_message_is_in_the_training_data(heldout: Path) -> None:
    trained = training_texts()
    copied = [text for text, _ in load_examples(heldout) if normalised(text) in trained]
    assert copied == []
