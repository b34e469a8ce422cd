"""A case from a channel with a reply window (WhatsApp: 24 hours after the customer's last
message) says in its parent message until when a text reply can be delivered; the time moves on
when the customer writes; a thread reply after the window closed is not sent, and the agent is
told why, privately. The inbox has no WhatsApp code: it renders the channel's fact."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.slack_api import ApiCall, channel_message
from tests.slack_inbox.conftest import AGENT, HANDOFF_SECRET, INBOX, InboxGateway, a_package

CUSTOMER = "whatsapp:+447700900123"
DAY = 24 * 3600


def texts(message: ApiCall) -> str:
    return str(message.body["blocks"])


async def whatsapp_case(gateway: InboxGateway, *, last_wrote: float) -> tuple[str, ApiCall]:
    await gateway.stores.conversations.update(CUSTOMER, channel="whatsapp",
                                              customer_id="+447700900123", last_seen=last_wrote)
    package: dict[str, Any] = {**a_package(CUSTOMER), "channel": "whatsapp"}
    before = len(gateway.parents())
    async with gateway.http.post(f"{gateway.url}/handoff/v1/cases", json=package,
                                 headers={"Authorization": f"Bearer {HANDOFF_SECRET}"}) as resp:
        assert resp.status == 201, await resp.text()
        case_id = str((await resp.json())["case_id"])
    await gateway.until(lambda: len(gateway.parents()) > before)
    await gateway.inbox.idle()
    return case_id, gateway.parents()[-1]


async def test_the_parent_says_until_when_a_text_reply_can_be_delivered(
        gateway: InboxGateway) -> None:
    wrote = time.time() - 3600
    _, parent = await whatsapp_case(gateway, last_wrote=wrote)
    assert f"<!date^{int(wrote + DAY)}^Text replies possible until" in texts(parent)


async def test_a_thread_reply_after_the_window_closed_is_not_sent(gateway: InboxGateway) -> None:
    case_id, parent = await whatsapp_case(gateway, last_wrote=time.time() - DAY - 60)
    assert "Text replies can no longer be delivered" in texts(parent)
    event = channel_message("your refund is through", channel=INBOX, user=AGENT,
                            thread_ts=str(parent.result["ts"]))
    assert await gateway.events.send(event) == 200
    await gateway.inbox.idle()
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert told.body["user"] == AGENT
    assert told.body["text"].startswith("Your message was not sent: WhatsApp delivers text "
                                        "replies only within 24 h")
    transcript = await gateway.stores.transcripts.recent(CUSTOMER, limit=20)
    assert not any(e["role"] == "agent" for e in transcript)
    assert (await gateway.desk.get(case_id)).agent is None  # nor was it claimed for them


async def test_the_customer_writing_again_moves_the_window_on(gateway: InboxGateway) -> None:
    case_id, parent = await whatsapp_case(gateway, last_wrote=time.time() - DAY - 60)
    wrote = time.time()
    await gateway.stores.conversations.update(CUSTOMER, last_seen=wrote)
    case = await gateway.desk.get(case_id)
    assert case is not None
    await gateway.desk.customer_message(case, "hello? still there?")
    await gateway.inbox.idle()
    updates = [c for c in gateway.slack.attempts("chat.update")
               if c.ok and c.body["ts"] == parent.result["ts"]]
    assert updates and f"<!date^{int(wrote + DAY)}^" in texts(updates[-1])
