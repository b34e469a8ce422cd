"""Twilio takes at most 1600 characters per message: longer replies are split at paragraph or
sentence boundaries and sent in order. Each part's encoding and billed segment count are logged
(one non-GSM character turns a body into UCS-2 and more than doubles its segments)."""

from __future__ import annotations

import logging
import re

import pytest
import yaml

from bot.messages import OutboundMessage
from bot.model_cache import ROOT
from channels.outbound import AGENT_LABEL, sms_encoding, sms_segments
from tests.sms.conftest import CUSTOMER, SmsGateway

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
    ("Your parcel is on its way 📦", "GSM-7", 1),  # sent without the emoji
    ("Ваша посылка в пути 📦", "UCS-2", 1),
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


async def test_the_greeting_goes_out_in_gsm7_in_two_segments(sms: SmsGateway) -> None:
    """The greeting in domain.yml carries an emoji: as UCS-2 it cost 5 segments."""
    greeting = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]["utter_greet"][0]
    sms.rasa.replies = lambda text: [{"text": greeting["text"], "buttons": greeting["buttons"]}]
    await sms.text("hi")
    await sms.twilio.wait_for_sent(1)
    await sms.settle()
    [body] = sms.twilio.bodies()
    assert sms_encoding(body) == "GSM-7" and sms_segments(body) == 2
    assert "automated assistant I can track an order" in body and "1. Track my order" in body


async def test_every_part_of_a_split_agent_reply_says_it_is_a_person(sms: SmsGateway) -> None:
    await sms.text("hello")
    await sms.twilio.wait_for_sent(1)
    await sms.settle()
    await sms.engine.reply(f"sms:{CUSTOMER}", [OutboundMessage(text=LONG_REPLY, role="agent")])
    await sms.twilio.wait_for_sent(4)
    bodies = sms.twilio.bodies()[1:]
    assert len(bodies) >= 3 and all(len(body) <= 1600 for body in bodies)
    assert all(body.startswith(AGENT_LABEL) for body in bodies)
    assert " ".join(b.removeprefix(AGENT_LABEL) for b in bodies).split() == LONG_REPLY.split()
