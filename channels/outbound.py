"""Shared outbound helpers for platform channels: sending with retries, splitting long text, and
SMS segment counting."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import unicodedata
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping, TypeVar

from bot.channel_port import DeliveryFailed, OutboundMessage, SettingsError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Platforms show every message as the bot's: a person's words say so (the web chat labels roles).
AGENT_LABEL = "Support agent: "


def shown_text(message: OutboundMessage) -> str:
    """A message's text as a platform without roles shows it."""
    if message.role == "agent" and message.text.strip():
        return AGENT_LABEL + message.text
    return message.text


class RetryableSendError(Exception):
    """The platform may accept the same send later (429, 5xx, timeout)."""

    def __init__(self, reason: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class PermanentSendError(Exception):
    """The platform refused the send for good (bad token, unknown chat, blocked bot)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How sends to a platform are retried: exponential backoff from base_delay_s (with a little
    jitter), capped at max_delay_s, Retry-After honoured as given. Injected, so tests run the
    same code without the waiting (SEND_RETRY_BASE_DELAY_S, or a `sleep` that only records)."""

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetryPolicy:
        raw = env.get("SEND_RETRY_BASE_DELAY_S") or ""
        try:
            return cls(base_delay_s=float(raw)) if raw else cls()
        except ValueError as exc:
            raise SettingsError(f"SEND_RETRY_BASE_DELAY_S must be a number, got {raw!r}") from exc


async def send_with_retry(send: Callable[[], Awaitable[T]], *, what: str,
                          policy: RetryPolicy = RetryPolicy(), attempts: int | None = None) -> T:
    """Run `send`, retrying RetryableSendError as the policy says (`attempts` overrides its
    count); raise DeliveryFailed when attempts run out or the error is permanent."""
    attempts = attempts or policy.attempts
    for attempt in range(1, attempts + 1):
        try:
            return await send()
        except PermanentSendError as exc:
            log.error("%s refused permanently: %s", what, exc)
            raise DeliveryFailed(f"{what}: {exc}") from exc
        except RetryableSendError as exc:
            if attempt == attempts:
                log.error("%s failed after %d attempts: %s", what, attempts, exc)
                raise DeliveryFailed(f"{what}: {exc} (after {attempts} attempts)") from exc
            delay = exc.retry_after_s if exc.retry_after_s is not None else (
                policy.base_delay_s * 2 ** (attempt - 1) * (1 + random.random() / 4))
            delay = min(delay, policy.max_delay_s)
            log.warning("%s attempt %d failed (%s); retrying in %.2fs", what, attempt, exc, delay)
            await policy.sleep(delay)
    raise AssertionError("unreachable")


def split_text(text: str, limit: int) -> list[str]:
    """Split text into chunks of at most `limit` characters, preferring paragraph, then line, then
    sentence, then word boundaries; a single over-long word is cut hard."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = -1
        for pattern in (r"\n\s*\n", r"\n", r"(?<=[.!?])\s", r"\s"):
            matches = [m.start() for m in re.finditer(pattern, window) if 0 < m.start() <= limit]
            if matches:
                cut = matches[-1]
                break
        if cut <= 0:
            cut = limit
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks


# GSM 03.38 basic character set and the extension table (each extension char costs two septets).
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_encoding(text: str) -> str:
    """'GSM-7' when every character is in the GSM alphabet, else 'UCS-2'."""
    return "GSM-7" if all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text) else "UCS-2"


# Characters outside GSM-7 with a GSM-7 spelling of the same meaning (what Twilio's Smart Encoding
# replaces). With emoji dropped too, most bot and agent texts stay GSM-7: one such character
# turns the whole body into UCS-2 and more than doubles its segments (the greeting: 5, not 2).
_GSM7_SPELLING = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u2039": "'",
    "\u203a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"',
    "\u00bb": '"', "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2022": "-", "\u00b7": "-", "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
})  # not the modifier letters ˆ and ˜: Unicode counts them as letters, of words they may be in
_EMOJI_JOINERS = {"\u200d", "\ufe0f", "\ufe0e", "\u20e3"}
# Pictographs, emoticons, transport and map symbols, flags and skin tones. Other symbols (check
# marks, stars, arrows, boxes) carry meaning: a text with one stays UCS-2.
_EMOJI_BLOCKS = ((0x1F300, 0x1FAFF), (0x1F1E6, 0x1F1FF))
_SPACE_RUN = re.compile(r"[ \t]{2,}")
_DROPPED = "\x00"  # marks a dropped emoji; a NUL in the text itself is dropped with them
_DROPPED_AT_LINE_START = re.compile(r"^[ \t]*\x00[\x00 \t]*", re.MULTILINE)


def _is_emoji(c: str) -> bool:
    if c in _EMOJI_JOINERS:
        return True
    code = ord(c)
    return any(low <= code <= high for low, high in _EMOJI_BLOCKS) and \
        unicodedata.category(c) in ("So", "Sk")


def sms_text(text: str) -> str:
    """The text as SMS sends it: in GSM-7 when spelling punctuation the GSM way and dropping
    emoji get it there; otherwise unchanged (UCS-2 keeps other scripts and symbols whole)."""
    if sms_encoding(text) == "GSM-7":
        return text
    marked = "".join(_DROPPED if _is_emoji(c) else c for c in text.translate(_GSM7_SPELLING))
    plain = _DROPPED_AT_LINE_START.sub("", marked).replace(_DROPPED, "")
    plain = "\n".join(_SPACE_RUN.sub(" ", line).rstrip(" \t") for line in plain.split("\n"))
    return plain if sms_encoding(plain) == "GSM-7" else text


def sms_segments(text: str) -> int:
    """How many SMS segments carriers bill for this body (160/153 GSM-7 septets, 70/67 UCS-2 units)."""
    if sms_encoding(text) == "GSM-7":
        units = sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)  # astral chars are surrogate pairs
        single, multi = 70, 67
    if units <= single:
        return 1
    return -(-units // multi)
