"""Pictures, voice notes and other MMS media cannot be read: they reach the engine as attachments
and the customer gets a polite text-only reply (or their words answered, plus a note)."""

from __future__ import annotations

import pytest

from bot.engine import MEDIA_ONLY_REPLY, MEDIA_WITH_TEXT_NOTE
from bot.messages import Attachment, InboundMessage
from channels.sms import MediaKind
from tests.sms.conftest import SmsGateway

MEDIA_URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"


@pytest.mark.parametrize(("mime_type", "kind"), [
    ("image/jpeg", "image"), ("audio/amr", "audio"), ("video/mp4", "video"),
    ("application/pdf", "file"), ("text/vcard", "file")])
async def test_media_without_text_gets_a_polite_reply(sms: SmsGateway,
                                                     accepted: list[InboundMessage],
                                                     mime_type: str, kind: MediaKind) -> None:
    await sms.text("", media=[(MEDIA_URL, mime_type)])
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sent["Body"] == MEDIA_ONLY_REPLY
    assert sms.rasa.received == []
    assert accepted[0].attachments == (Attachment(kind=kind, url=MEDIA_URL, mime_type=mime_type),)


async def test_every_media_item_becomes_an_attachment(sms: SmsGateway,
                                                      accepted: list[InboundMessage]) -> None:
    await sms.text("", media=[(MEDIA_URL + "a", "image/png"), (MEDIA_URL + "b", "image/gif")])
    await sms.twilio.wait_for_sent(1)
    assert [a.url for a in accepted[0].attachments] == [MEDIA_URL + "a", MEDIA_URL + "b"]


async def test_media_with_text_answers_the_text_and_adds_a_note(sms: SmsGateway) -> None:
    await sms.text("my parcel arrived broken", media=[(MEDIA_URL, "image/jpeg")])
    [sent] = await sms.twilio.wait_for_sent(1)
    assert sms.rasa.texts() == ["my parcel arrived broken"]
    assert sent["Body"] == f"You said: my parcel arrived broken\n\n{MEDIA_WITH_TEXT_NOTE}"
