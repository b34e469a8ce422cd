"""SMS bodies stay in GSM-7 where the meaning survives: punctuation gets its GSM spelling, emoji
(pictographs, faces, flags) are dropped, and a text that needs another script or a symbol that
carries meaning (a check mark, a star) is sent as it is. One non-GSM character would make the whole body UCS-2, more than
doubling what it costs."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channels.outbound import sms_encoding, sms_text


@pytest.mark.parametrize(("text", "sent"), [
    ("Your parcel is on its way 📦", "Your parcel is on its way"),
    ("I'm a bot 🤖 I can help", "I'm a bot I can help"),
    ("I love 🍕 Pizza Hut", "I love Pizza Hut"),  # no full stop invented
    ("📦 Shipped!\n🚚 Out for delivery", "Shipped!\nOut for delivery"),
    ("Thanks 👍🏽 see you", "Thanks see you"),
    ("“Done” — that’s it…", '"Done" - that\'s it...'),
    ("already plain: 5 € and {braces}", "already plain: 5 € and {braces}"),
])
def test_texts_with_a_gsm_spelling_are_sent_in_gsm7(text: str, sent: str) -> None:
    assert sms_text(text) == sent
    assert sms_encoding(sent) == "GSM-7"


@pytest.mark.parametrize("text", ["Ваша посылка в пути 📦", "配送中です", "Zamówienie ł 👍",
                                  "Payment ✓ Shipping ✗", "☐ Item one\n☑ Item two",
                                  "Press ▶ Play", "Rate us ★★★★★ Thanks"])
def test_a_text_that_needs_another_script_or_symbol_is_sent_as_it_is(text: str) -> None:
    assert sms_text(text) == text


@settings(max_examples=400, deadline=None)
@given(st.text())
@example("ˆ")  # a modifier letter: a letter to Unicode, so not spelled "^"
def test_the_words_survive_and_the_result_is_gsm7_or_untouched(text: str) -> None:
    sent = sms_text(text)
    assert sms_encoding(sent) == "GSM-7" or sent == text
    assert [c for c in sent if c.isalnum()] == [c for c in text if c.isalnum()]
