"""Twilio takes at most 1600 characters per message: longer replies are split at paragraph or
sentence boundaries and sent in order. Each part's encoding and billed segment count are logged
(one non-GSM character turns a body into UCS-2 and more than doubles its segments)."""

from __future__ import annotations

import logging
import re

import pytest

from tests.sms.conftest import SmsGateway

LONG_REPLY = "\n\n".join(
    f"Step {i}: " + "check the label on the parcel and compare it with your receipt. " * 9
    for i in range(1, 8))


async def test_a_long_reply_is_split_into_ordered_messages_under_the_limit(
        sms: SmsGateway) -> None:
    assert len(LONG_REPLY) > 2 * 1600 and "Step 7" in LONG_REPLY
    sms.rasa.replies = lambda text: [{"text": LONG_REPLY}]
    await sms.text("how do I check my parcel")
    await sms.twilio.wait_for_sent(4)
    await sms.settle()
    bodies = sms.twilio.bodies()
    assert all(len(body) <= 1600 for body in bodies)
    assert " ".join(bodies).split() == LONG_REPLY.split()  # nothing lost, in order
    # Paragraphs (about 590 characters each) are kept whole: two fit in a message.
    assert [body.split(":")[0] for body in bodies] == ["Step 1", "Step 3", "Step 5", "Step 7"]


async def test_a_reply_at_the_limit_is_one_message(sms: SmsGateway) -> None:
    sms.rasa.replies = lambda text: [{"text": "x" * 1600}]
    await sms.text("hi")
    await sms.twilio.wait_for_sent(1)
    await sms.settle()
    assert sms.twilio.bodies() == ["x" * 1600]


@pytest.mark.parametrize(("reply", "encoding", "segments"), [
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("Your parcel is on its way " * 10, "GSM-7", 2),
    ("Ваша посылка в пути " * 7, "UCS-2", 3),
    ("Your parcel is on its way 📦", "UCS-2", 1),
])
async def test_each_send_logs_its_encoding_and_segment_count(
        sms: SmsGateway, caplog: pytest.LogCaptureFixture, reply: str, encoding: str,
        segments: int) -> None:
    caplog.set_level(logging.INFO, logger="channels.sms")
    sms.rasa.replies = lambda text: [{"text": reply}]
    await sms.text("status?")
    await sms.twilio.wait_for_sent(1)
    await sms.settle()
    body = sms.twilio.bodies()[0]
    assert re.search(rf"part 1/1\) sent as SM\w+: {len(body)} chars, {encoding}, "
                     rf"{segments} segment\(s\)", caplog.text), caplog.text
