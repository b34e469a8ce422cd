"""Parsing what customers type for order numbers, e-mails, phones and usernames. Pure functions."""

from __future__ import annotations

import re

# Accepts 482913, #482913, ORD-482913, ord482913, "order no. 482913", "order #482913".
_ORDER_ID = re.compile(r"(?i)(?<![\w])(?:ord(?:er)?\s*(?:no\.?|number|num|nr)?\s*[-#:]?\s*)?#?(\d{6})(?![\w])")
_ANY_DIGIT_RUN = re.compile(r"\d+")
_EMAIL = re.compile(r"(?i)^[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}$")
_EMAIL_IN_TEXT = re.compile(r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{2,31}$")


def parse_order_id(text: str) -> str | None:
    """The canonical 6-digit order number in text, or None when there is none or several differ."""
    found = {m.group(1) for m in _ORDER_ID.finditer(text or "")}
    if len(found) == 1:
        return found.pop()
    return None


def looks_like_attempted_order_id(text: str) -> bool:
    """True when the text has digits that are not a valid order number (to say why we re-ask)."""
    return bool(_ANY_DIGIT_RUN.search(text or "")) and parse_order_id(text) is None


def parse_email(text: str) -> str | None:
    match = _EMAIL_IN_TEXT.search(text or "")
    if match and _EMAIL.match(match.group(0)):
        return match.group(0).lower()
    return None


def parse_phone(text: str) -> str | None:
    """A phone number as digits with an optional leading +, when the text holds one (8-15 digits)."""
    candidate = re.sub(r"[\s().-]", "", text or "")
    match = re.fullmatch(r"(?:tel:)?(\+?)(\d{8,15})", candidate)
    if match is None:
        match = re.search(r"(\+?)(?<!\d)(\d[\d\s().-]{6,18}\d)(?!\d)", text or "")
        if match is None:
            return None
        digits = re.sub(r"\D", "", match.group(2))
        if not 8 <= len(digits) <= 15:
            return None
        return match.group(1) + digits
    return match.group(1) + match.group(2)


def parse_contact(text: str) -> str | None:
    """An e-mail address or phone number from text, e-mail first."""
    return parse_email(text) or parse_phone(text)


def parse_login(text: str) -> str | None:
    """An e-mail address or a plausible username; None for sentences or empty input."""
    email = parse_email(text)
    if email:
        return email
    stripped = (text or "").strip().strip(".!")
    for prefix in ("my username is ", "username is ", "username: ", "username ", "user "):
        if stripped.lower().startswith(prefix):
            stripped = stripped[len(prefix):].strip()
            break
    if _USERNAME.match(stripped):
        return stripped
    return None
