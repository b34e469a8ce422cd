"""Files and images cannot be read: alone they get a polite text-only reply, with words the words
are answered plus a note."""

from __future__ import annotations

from typing import Any

import pytest

from bot.engine import MEDIA_ONLY_REPLY, MEDIA_WITH_TEXT_NOTE
from tests.fakes.slack_api import channel_message, dm
from tests.slack.conftest import SlackGateway


def file(mimetype: str, name: str) -> dict[str, Any]:
    return {"id": "F0001", "name": name, "mimetype": mimetype, "filetype": name.rsplit(".")[-1],
            "url_private": f"https://files.slack.com/files-pri/T0001-F0001/{name}",
            "permalink": f"https://acme.slack.com/files/UCUSTOMER/F0001/{name}"}


FILES = {
    "image": file("image/png", "damage.png"),
    "voice clip": file("audio/webm", "audio_message.webm"),
    "video": file("video/mp4", "unboxing.mp4"),
    "document": file("application/pdf", "invoice.pdf"),
}


@pytest.mark.parametrize("shared", FILES.values(), ids=FILES.keys())
async def test_a_file_alone_gets_a_polite_text_only_reply(gateway: SlackGateway,
                                                          shared: dict[str, Any]) -> None:
    await gateway.events.send(dm("", subtype="file_share", files=[shared]))
    [post] = await gateway.slack.wait_for_posts(1)
    assert post["text"] == MEDIA_ONLY_REPLY.replace("&", "&amp;")
    assert gateway.rasa.received == []


async def test_words_with_a_file_are_answered_with_a_note(gateway: SlackGateway) -> None:
    root = channel_message("the box arrived broken", subtype="file_share",
                           files=[FILES["image"]])
    await gateway.events.send(root)
    posts = await gateway.slack.wait_for_posts(2)
    assert [p["text"] for p in posts] == ["You said: the box arrived broken", MEDIA_WITH_TEXT_NOTE]
    assert {p["thread_ts"] for p in posts} == {root["ts"]}
    assert gateway.rasa.texts() == ["the box arrived broken"]
