"""PII redaction for logs, transcripts and handoff packages.

What is removed always: payment card numbers (Luhn-checked, so order numbers survive), anything that
looks like a password or one-time code given in context ("my password is ...", "code 123456"), and
IBAN-like strings. E-mail addresses and phone numbers are masked unless the caller needs them
(the customer's own transcript keeps them; logs and agent packages get a masked form that is still
recognisable to the customer: j***@example.com, ***-***-0001)."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

_CARD_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_SECRET_IN_CONTEXT = re.compile(
    r"(?i)\b(pass(?:word|wd|code)?|pwd|pin|otp|one[- ]time (?:code|password)|verification code|"
    r"security code|cvv|cvc|2fa code|code)\b(\s*(?:(?:is|:|=|was|it's|its)\s*)?)(\S+)"
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


_PASSWORD_IN_CONTEXT = re.compile(
    r"(?i)\b(pass(?:word|wd)?|pwd)\b(\s*(?:(?:is|:|=|was|it's|its)\s*)?)(\S+)")


def minimise(text: str) -> str:
    """What the assistant takes in at all (before anything is stored or sent to Rasa): card
    numbers, IBANs and passwords removed, since nothing ever needs them (the bot asks for neither).
    One-time codes stay: the account-deletion flow asks for one (it is kept out of every record
    downstream, and it is single use and expires)."""
    text = _CARD_CANDIDATE.sub(_redact_card, text)
    text = _IBAN.sub("[iban]", text)
    return _PASSWORD_IN_CONTEXT.sub(_redact_secret, text)


def mask_id(identifier: str) -> str:
    """A conversation or platform id as logs show it: the channel prefix and the last few
    characters (an SMS conversation id is a phone number, a Telegram one a user id)."""
    prefix, sep, rest = identifier.partition(":")
    if not sep:
        prefix, rest = "", identifier
    keep = 4 if len(rest) > 6 else 2
    return f"{prefix}{sep}***{rest[-keep:]}"


SECRET = "[redacted]"


def redact_event(event: dict[str, Any], *, secret: bool = False, keep_contact: bool = True,
                 forget: Collection[str] = ()) -> dict[str, Any]:
    """A Rasa tracker event as it may be stored: card numbers, passwords and one-time codes
    removed from every text, contacts kept only while the conversation needs them
    (keep_contact), and the whole text of a message answering a secret question (secret)
    replaced. Texts nested in lists and dicts (a list slot, a bot message's buttons) count too.

    An entity whose text was removed from the message is replaced as well: "code 481516" leaves
    NLU an order-number-shaped entity "481516" that no pattern recognises on its own. `forget`
    are such values removed from earlier messages, replaced wherever they appear (the slot an
    entity filled, a bot message quoting it)."""
    def text(value: Any) -> Any:
        if isinstance(value, str):
            if secret:
                return SECRET
            for fragment in forget:
                value = value.replace(fragment, SECRET)
            return redact(value, keep_contact=keep_contact)
        if isinstance(value, list):
            return [text(item) for item in value]
        if isinstance(value, dict):
            return {key: text(item) for key, item in value.items()}
        return value

    def entities(found: Any, said: Any = None, kept: Any = None) -> Any:
        if not isinstance(found, list):
            return found

        def value(v: Any) -> Any:
            out = text(v)
            if (isinstance(v, str) and out == v and isinstance(said, str) and v in said
                    and isinstance(kept, str) and v not in kept):
                return SECRET  # what the customer typed here was removed as a secret
            return out
        return [{**e, "value": value(e.get("value"))} if isinstance(e, dict) and "value" in e
                else e for e in found]

    kind = event.get("event")
    out = dict(event)
    if kind == "user":
        out["text"] = text(event.get("text"))
        parse_data = event.get("parse_data")
        if isinstance(parse_data, dict):
            parse_data = dict(parse_data)
            parse_data["text"] = text(parse_data.get("text"))
            parse_data["entities"] = entities(parse_data.get("entities") or [],
                                              event.get("text"), out["text"])
            out["parse_data"] = parse_data
        if not keep_contact and isinstance(event.get("metadata"), dict):
            out["metadata"] = {k: redact(v) if isinstance(v, str) else v
                               for k, v in event["metadata"].items()}
    elif kind == "bot":
        if "text" in event:
            out["text"] = text(event["text"])
        if isinstance(event.get("data"), dict):
            out["data"] = text(event["data"])  # buttons and custom payloads echo what was said
    elif kind == "slot":
        # A secret slot reset to None stays None: "[redacted]" would read as filled next turn.
        value = event.get("value")
        out["value"] = value if value is None else SECRET if secret else text(value)
    elif kind == "entities":
        out["entities"] = entities(event.get("entities"))
    elif kind == "action" and isinstance(event.get("action_text"), str):
        out["action_text"] = text(event["action_text"])  # end-to-end bot text
    return out


def without_contacts(event: dict[str, Any]) -> dict[str, Any]:
    """An event of a session that is over: its e-mails and phone numbers masked too."""
    return redact_event(event, keep_contact=False)
