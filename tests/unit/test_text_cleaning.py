"""Channel noise is stripped before NLU (intent injection is neutralised elsewhere, in one place:
tests/injection)."""

import pytest

from bot.text_cleaning import clean, is_handoff_keyword


@pytest.mark.parametrize("raw, cleaned", [
    ("<@U024BE7LH> where is my order", "where is my order"),
    ("see <https://example.com/x|this page> pls", "see this page pls"),
    ("see <https://example.com/x>", "see https://example.com/x"),
    ("@northwind_helper_bot hi there", "hi there"),
    ("  lots   of   space  ", "lots of space"),
    ("bad\x00bytes\x07", "badbytes"),
])
def test_clean(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize("text", ["agent", "Agent!", "HUMAN", "talk to a person", "real person."])
def test_handoff_keywords(text: str) -> None:
    assert is_handoff_keyword(text)


@pytest.mark.parametrize("text", ["my agent said", "where is my order", "personal data"])
def test_not_handoff_keywords(text: str) -> None:
    assert not is_handoff_keyword(text)
