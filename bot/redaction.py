"""PII redaction for logs, transcripts and handoff packages.

What is removed always: payment card numbers (Luhn-checked, so order numbers survive), anything that
looks like a password or one-time code given in context ("my password is ...", "code 123456"), and
IBAN-like strings. E-mail addresses and phone numbers are masked unless the caller needs them
(the customer's own transcript keeps them; logs and agent packages get a masked form that is still
recognisable to the customer: j***@example.com, ***-***-0001)."""

from __future__ import annotations

import re
from typing import Any

_CARD_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_SECRET_IN_CONTEXT = re.compile(
    r"(?i)\b(pass(?:word|wd|code)?|pwd|pin|otp|one[- ]time (?:code|password)|verification code|"
    r"security code|cvv|cvc|2fa code|code)\b(\s*(?:is|:|=|was|it's|its)?\s*)(\S+)"
)
_EMAIL = re.compile(r"(?i)\b([a-z0-9._%+-])[a-z0-9._%+-]*@([a-z0-9.-]+\.[a-z]{2,})\b")
_PHONE = re.compile(r"(?<![\w])(\+?\d[\d ().-]{7,}\d)(?![\w])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _redact_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return "[card ****" + digits[-4:] + "]"
    return match.group(0)


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(1))
    if not 8 <= len(digits) <= 15:
        return match.group(0)
    return "[phone ***" + digits[-4:] + "]"


def _redact_secret(match: re.Match[str]) -> str:
    keyword, separator, value = match.group(1), match.group(2), match.group(3)
    # "my code doesn't work" is not a secret; "code: hunter2" and "code 481516" are.
    if not separator.strip() and not any(ch.isdigit() for ch in value):
        return match.group(0)
    return f"{keyword}{separator}[redacted]"


def mask_email(address: str) -> str:
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", address)


def redact(text: str, *, keep_contact: bool = False) -> str:
    """Return text safe to store or show to an agent; keep_contact leaves emails/phones as they are."""
    text = _CARD_CANDIDATE.sub(_redact_card, text)
    text = _IBAN.sub("[iban]", text)
    text = _SECRET_IN_CONTEXT.sub(_redact_secret, text)
    if not keep_contact:
        text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
        text = _PHONE.sub(_mask_phone, text)
    return text


def mask_id(identifier: str) -> str:
    """A conversation or platform id as logs show it: the channel prefix and the last few
    characters (an SMS conversation id is a phone number, a Telegram one a user id)."""
    prefix, sep, rest = identifier.partition(":")
    if not sep:
        prefix, rest = "", identifier
    keep = 4 if len(rest) > 6 else 2
    return f"{prefix}{sep}***{rest[-keep:]}"


SECRET = "[redacted]"


def redact_event(event: dict[str, Any], *, secret: bool = False,
                 keep_contact: bool = True) -> dict[str, Any]:
    """A Rasa tracker event as it may be stored: card numbers, passwords and one-time codes
    removed from every text, contacts kept only while the conversation needs them
    (keep_contact), and the whole text of a message answering a secret question (secret)
    replaced."""
    def text(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return SECRET if secret else redact(value, keep_contact=keep_contact)

    kind = event.get("event")
    out = dict(event)
    if kind == "user":
        out["text"] = text(event.get("text"))
        parse_data = event.get("parse_data")
        if isinstance(parse_data, dict):
            parse_data = dict(parse_data)
            parse_data["text"] = text(parse_data.get("text"))
            parse_data["entities"] = [
                {**e, "value": text(e.get("value"))} if isinstance(e, dict) else e
                for e in parse_data.get("entities") or []]
            out["parse_data"] = parse_data
        if not keep_contact and isinstance(event.get("metadata"), dict):
            out["metadata"] = {k: redact(v) if isinstance(v, str) else v
                               for k, v in event["metadata"].items()}
    elif kind == "bot" and isinstance(event.get("text"), str):
        out["text"] = redact(event["text"], keep_contact=keep_contact)
    elif kind == "slot":
        out["value"] = SECRET if secret else (
            redact(event["value"], keep_contact=keep_contact)
            if isinstance(event.get("value"), str) else event.get("value"))
    return out


def without_contacts(event: dict[str, Any]) -> dict[str, Any]:
    """An event of a session that is over: its e-mails and phone numbers masked too."""
    return redact_event(event, keep_contact=False)
