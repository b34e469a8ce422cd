"""Shared outbound helpers: retries, text splitting, SMS segment counts."""

from __future__ import annotations

import pytest

from bot.channel_port import DeliveryFailed
from channels.outbound import (
    RetryPolicy,
    PermanentSendError,
    RetryableSendError,
    send_with_retry,
    sms_encoding,
    sms_segments,
    split_text,
)


async def test_retryable_errors_are_retried_until_success() -> None:
    calls = []

    async def send() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableSendError("503")
        return "ok"

    assert await send_with_retry(send, what="t", policy=RetryPolicy(base_delay_s=0.001)) == "ok"
    assert len(calls) == 3


async def test_retry_after_is_honoured() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    attempts = iter([RetryableSendError("429", retry_after_s=7.0), None])

    async def send() -> None:
        error = next(attempts)
        if error:
            raise error

    await send_with_retry(send, what="t", policy=RetryPolicy(sleep=fake_sleep))
    assert slept == [7.0]


async def test_exhausted_retries_raise_delivery_failed() -> None:
    async def send() -> None:
        raise RetryableSendError("timeout")

    with pytest.raises(DeliveryFailed, match="after 3 attempts"):
        await send_with_retry(send, what="t", attempts=3, policy=RetryPolicy(base_delay_s=0.001))


async def test_permanent_errors_are_not_retried() -> None:
    calls = []

    async def send() -> None:
        calls.append(1)
        raise PermanentSendError("chat not found")

    with pytest.raises(DeliveryFailed):
        await send_with_retry(send, what="t")
    assert len(calls) == 1


def test_short_text_is_one_chunk() -> None:
    assert split_text("hello", 10) == ["hello"]


@pytest.mark.parametrize("limit", [20, 50, 100])
def test_chunks_respect_the_limit_and_keep_every_word(limit: int) -> None:
    text = ("First paragraph here. It has two sentences.\n\nSecond paragraph is a bit longer "
            "and goes on for a while without stopping much at all.")
    chunks = split_text(text, limit)
    assert all(len(c) <= limit for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_paragraph_boundary_is_preferred() -> None:
    assert split_text("aaaa bbbb.\n\ncccc dddd", 15) == ["aaaa bbbb.", "cccc dddd"]


def test_overlong_word_is_cut_hard() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


@pytest.mark.parametrize("text, encoding, segments", [
    ("hello", "GSM-7", 1),
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("€" * 80, "GSM-7", 1),   # extension chars cost two septets
    ("€" * 81, "GSM-7", 2),
    ("ok 👍", "UCS-2", 1),
    ("é" * 10 + "ł", "UCS-2", 1),
    ("ł" * 71, "UCS-2", 2),
])
def test_sms_encoding_and_segments(text: str, encoding: str, segments: int) -> None:
    assert sms_encoding(text) == encoding
    assert sms_segments(text) == segments
