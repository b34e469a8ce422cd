"""What leaves the gateway for logs, transcripts and agents has PII removed."""

import pytest

from bot.redaction import mask_email, redact


@pytest.mark.parametrize("text, secret", [
    ("my card is 4111 1111 1111 1111 pls charge it", "4111 1111 1111 1111"),
    ("card 5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("378282246310005 is my amex", "378282246310005"),
])
def test_card_numbers_are_removed_keeping_last_four(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[card ****" + secret[-4:] + "]" in out


@pytest.mark.parametrize("text", [
    "order 482913 please",
    "tracking 1Z999AA10123456784",
    "1234 5678 9012 3456",  # fails the Luhn check: not a card
])
def test_numbers_that_are_not_cards_survive(text: str) -> None:
    assert redact(text, keep_contact=True) == text


@pytest.mark.parametrize("text, secret", [
    ("my password is hunter2!", "hunter2!"),
    ("password: Tr0ub4dor&3", "Tr0ub4dor&3"),
    ("the code is 481516", "481516"),
    ("otp 992211", "992211"),
    ("pin=4455", "4455"),
    ("My verification code: 123-456", "123-456"),
])
def test_passwords_and_one_time_codes_are_removed(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[redacted]" in out


def test_words_after_code_are_not_mistaken_for_secrets() -> None:
    assert redact("the discount code doesnt work") == "the discount code doesnt work"


def test_contacts_are_masked_by_default() -> None:
    out = redact("reach me at jane.doe@example.com or +1 (555) 010-0001")
    assert "jane.doe@" not in out and "010-0001" not in out
    assert "j***@example.com" in out and "[phone ***0001]" in out


def test_contacts_are_kept_when_asked() -> None:
    text = "reach me at jane.doe@example.com or +1 (555) 010-0001"
    assert redact(text, keep_contact=True) == text


def test_mask_email() -> None:
    assert mask_email("omar@example.org") == "o***@example.org"
