"""An agent's reply in a case thread goes to the customer through the desk, as role "agent"; a
waiting case is claimed for them first. Replies the case does not allow are refused, privately."""

from __future__ import annotations

from bot.state import CaseStatus

from tests.slack_inbox.conftest import AGENT, AGENT_2, Case, InboxGateway, messages_until


async def test_a_thread_reply_reaches_the_web_chat_customer(gateway: InboxGateway,
                                                            case: Case) -> None:
    await gateway.reply(case, "Hi, this is Sam from support. Let me check A-1001.")
    joined, reply = await messages_until(case.chat, "agent")
    assert joined["role"] == "system" and "joined the chat" in joined["text"]
    assert reply["text"] == "Hi, this is Sam from support. Let me check A-1001."
    stored = await gateway.status(case)
    assert (stored.status, stored.agent) == (CaseStatus.ACTIVE, f"slack:{AGENT}")
    transcript = await gateway.stores.transcripts.recent(case.conversation_id, limit=10)
    assert ("agent", reply["text"]) in [(e["role"], e["text"]) for e in transcript]
    await gateway.settle()
    assert "Claimed by" in gateway.latest(case).body["blocks"][-2]["elements"][0]["text"]


async def test_later_replies_go_straight_through(gateway: InboxGateway, case: Case) -> None:
    await gateway.press(case.parent, "Claim", AGENT)
    await messages_until(case.chat, "system")
    await gateway.reply(case, "first")
    await gateway.reply(case, "second")
    assert [m["text"] for m in [await case.chat.reply(), await case.chat.reply()]] == [
        "first", "second"]


async def test_slack_formatting_is_turned_into_plain_text(gateway: InboxGateway,
                                                          case: Case) -> None:
    await gateway.reply(case, "Track it <https://track.example/A-1001|here> &amp; "
                              "mail <mailto:help@shop.example|help@shop.example> &lt;3")
    *_, reply = await messages_until(case.chat, "agent")
    assert reply["text"] == ("Track it here (https://track.example/A-1001) & mail "
                             "help@shop.example <3")


async def test_a_redelivered_reply_reaches_the_customer_once(gateway: InboxGateway,
                                                            case: Case) -> None:
    event = await gateway.reply(case, "Only once, please.")
    assert await gateway.events.send(event, retry_num=1) == 200
    await messages_until(case.chat, "agent")
    await gateway.settle()
    assert await case.chat.silence(0.3) == []


async def test_a_reply_to_a_colleagues_case_is_not_sent(gateway: InboxGateway,
                                                        case: Case) -> None:
    await gateway.reply(case, "mine")
    await messages_until(case.chat, "agent")
    await gateway.reply(case, "no, mine", user=AGENT_2)
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert told.body["user"] == AGENT_2 and told.body["thread_ts"] == case.ts
    assert told.body["text"] == (f"Case {case.case_id} is already claimed by <@{AGENT}>, so "
                                 "your message was not sent.")
    assert await case.chat.silence(0.3) == []


async def test_a_reply_to_a_closed_case_is_not_sent(gateway: InboxGateway, case: Case) -> None:
    await gateway.reply(case, "hello")
    await messages_until(case.chat, "agent")
    await gateway.desk.resolve(case.case_id, f"slack:{AGENT}")
    await messages_until(case.chat, "system")
    await gateway.reply(case, "one more thing")
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert told.body["text"] == (f"Case {case.case_id} is already resolved, so your message "
                                 "was not sent.")
    assert await case.chat.silence(0.3) == []


async def test_files_are_not_forwarded_and_the_agent_is_told(gateway: InboxGateway,
                                                             case: Case) -> None:
    await gateway.reply(case, "", subtype="file_share",
                        files=[{"id": "F1", "mimetype": "image/png", "permalink": "https://x"}])
    [told] = await gateway.slack.wait_for("chat.postEphemeral", 1)
    assert told.body["text"] == "Files are not forwarded to the customer; only text is."
    assert (await gateway.status(case)).status is CaseStatus.QUEUED


async def test_the_bots_own_posts_in_the_thread_are_ignored(gateway: InboxGateway,
                                                            case: Case) -> None:
    await case.chat.send("hello?")
    await gateway.until(lambda: len(gateway.thread(case)) == 1)
    await gateway.reply(case, "*Customer:* hello?", user="UBOT", bot_id="BBOT")
    await gateway.settle()
    assert (await gateway.status(case)).status is CaseStatus.QUEUED
    assert gateway.slack.attempts("conversations.members") == []
