"""Channel noise is stripped before NLU: each channel's own markup by the channel's `normalise`,
then the core's cleaning, the same for every channel (intent injection is neutralised
elsewhere, in one place: tests/injection)."""

import pytest

from bot.text_cleaning import clean, is_handoff_keyword
from channels.registry import all_facts


@pytest.mark.parametrize("channel, raw, cleaned", [
    ("slack", "<@U024BE7LH> where is my order", "where is my order"),
    ("slack", "ping <!here> and <#C024BE7LR|general>", "ping and"),
    ("slack", "see <https://example.com/x|this page> pls", "see this page pls"),
    ("slack", "see <https://example.com/x>", "see https://example.com/x"),
    ("telegram", "@northwind_helper_bot hi there", "hi there"),
    ("web", "  lots   of   space  ", "lots of space"),
    ("sms", "bad\x00bytes\x07", "badbytes"),
])
def test_the_channel_normalises_then_the_core_cleans(channel: str, raw: str,
                                                    cleaned: str) -> None:
    assert clean(all_facts()[channel].normalise(raw)) == cleaned


@pytest.mark.parametrize("channel", ["web", "sms"])
def test_other_channels_keep_what_looks_like_slack_or_telegram_markup(channel: str) -> None:
    text = "<@U024BE7LH> and @northwind_helper_bot"
    assert clean(all_facts()[channel].normalise(text)) == text


@pytest.mark.parametrize("text", ["agent", "Agent!", "HUMAN", "talk to a person", "real person."])
def test_handoff_keywords(text: str) -> None:
    assert is_handoff_keyword(text)


@pytest.mark.parametrize("text", ["my agent said", "where is my order", "personal data"])
def test_not_handoff_keywords(text: str) -> None:
    assert not is_handoff_keyword(text)
