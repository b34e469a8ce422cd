"""SMS has no buttons: options are sent as a numbered list, and a reply that is just one of those
numbers presses the matching button (its payload goes to Rasa). Anything else is plain text."""

from __future__ import annotations

import pytest

from tests.fakes.rasa import Reply
from tests.sms.conftest import SmsGateway

MENU = ("Hi! I'm an automated assistant.\n\n1. Track my order\n2. Talk to a person\n"
        "Reply with a number.")


async def offer_menu(sms: SmsGateway) -> None:
    await sms.text("hello")
    await sms.twilio.wait_for_sent(1)
    await sms.settle()


async def test_buttons_are_sent_as_a_numbered_list(sms: SmsGateway) -> None:
    await offer_menu(sms)
    assert sms.twilio.bodies() == [MENU]


@pytest.mark.parametrize("reply", ["1", " 1.", "#1", "1)", "# 1"])
async def test_a_number_presses_the_matching_option(sms: SmsGateway, reply: str) -> None:
    await offer_menu(sms)
    await sms.text(reply)
    await sms.twilio.wait_for_sent(2)
    assert sms.rasa.texts() == ["hello", "/order_status"]


async def test_the_second_option_sends_the_second_payload(sms: SmsGateway) -> None:
    await offer_menu(sms)
    await sms.text("2")
    await sms.twilio.wait_for_sent(2)
    assert sms.rasa.texts()[-1] == "/human_handoff"


async def test_the_transcript_shows_the_option_title_not_the_digit(sms: SmsGateway) -> None:
    await offer_menu(sms)
    await sms.text("1")
    await sms.twilio.wait_for_sent(2)
    await sms.settle()
    entries = await sms.stores.transcripts.recent("sms:+447700900123", limit=10)
    assert entries[2]["role"] == "customer" and entries[2]["text"] == "Track my order"


@pytest.mark.parametrize("reply", ["0", "3", "12", "1 2", "1st"])
async def test_a_number_that_is_not_an_option_is_plain_text(sms: SmsGateway, reply: str) -> None:
    await offer_menu(sms)
    await sms.text(reply)
    await sms.twilio.wait_for_sent(2)
    assert sms.rasa.texts() == ["hello", reply]


async def test_a_number_is_plain_text_when_no_options_were_offered(sms: SmsGateway) -> None:
    await sms.text("2")
    await sms.twilio.wait_for_sent(1)
    assert sms.rasa.texts() == ["2"]


async def test_options_of_several_replies_in_one_turn_are_numbered_together(
        sms: SmsGateway) -> None:
    def replies(text: str) -> Reply:
        if text != "menu":
            return [{"text": f"You said: {text}"}]
        return [{"text": "Orders:", "buttons": [{"title": "Track", "payload": "/order_status"}]},
                {"text": "Or:", "buttons": [{"title": "Reset password", "payload": "/reset"},
                                            {"title": "A person", "payload": "/human_handoff"}]}]

    sms.rasa.replies = replies
    await sms.text("menu")
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["Body"] == ("Orders:\n\nOr:\n\n1. Track\n2. Reset password\n3. A person\n"
                            "Reply with a number.")
    await sms.settle()
    await sms.text("3")
    await sms.twilio.wait_for_sent(2)
    assert sms.rasa.texts()[-1] == "/human_handoff"
