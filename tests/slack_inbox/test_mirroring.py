"""The parent's thread is the case's conversation: what the customer writes is mirrored there, and
so are replies agents send from the web console (labelled); a Slack agent's own replies are
already there and are not echoed back."""

from __future__ import annotations

from tests.slack_inbox.conftest import Case, InboxGateway, messages_until

CONSOLE_AGENT = "ana.lopez@northwind.example"


async def test_customer_messages_are_mirrored_into_the_thread(gateway: InboxGateway,
                                                             case: Case) -> None:
    await case.chat.send("my parcel never arrived")
    await case.chat.send("it was a birthday present")
    await gateway.until(lambda: len(gateway.thread(case)) == 2)
    assert gateway.thread(case) == ["*Customer:* my parcel never arrived",
                                    "*Customer:* it was a birthday present"]
    assert gateway.rasa.received == []  # the bot stays out of it
    [ack] = await messages_until(case.chat, "system")
    assert "added that to your case" in ack["text"]


async def test_mirrored_text_is_redacted_and_cannot_ping_anyone(gateway: InboxGateway,
                                                                case: Case) -> None:
    await case.chat.send("<!channel> my card is 4111 1111 1111 1111")
    await gateway.until(lambda: len(gateway.thread(case)) == 1)
    [mirrored] = gateway.thread(case)
    assert mirrored == "*Customer:* &lt;!channel&gt; my card is [card ****1111]"


async def test_console_replies_are_mirrored_with_a_label(gateway: InboxGateway,
                                                         case: Case) -> None:
    await gateway.desk.claim(case.case_id, CONSOLE_AGENT)
    await gateway.desk.agent_reply(case.case_id, CONSOLE_AGENT, "Hi, I'm looking into it.")
    await gateway.until(lambda: len(gateway.thread(case)) == 1)
    assert gateway.thread(case) == [
        "*ana.lopez@northwind.example* (agent, from the console): Hi, I'm looking into it."]
    await gateway.settle()
    status = gateway.latest(case).body["blocks"][-2]["elements"][0]["text"]
    assert "Claimed by ana.lopez@northwind.example (console)" in status


async def test_a_slack_agents_reply_is_not_echoed_into_the_thread(gateway: InboxGateway,
                                                                  case: Case) -> None:
    await gateway.reply(case, "Hello, I can help.")
    await messages_until(case.chat, "agent")
    await case.chat.send("thanks!")
    await gateway.until(lambda: len(gateway.thread(case)) == 1)
    await gateway.settle()
    assert gateway.thread(case) == ["*Customer:* thanks!"]


async def test_a_message_the_customer_did_not_get_is_flagged_in_the_thread(
        gateway: InboxGateway, case: Case) -> None:
    await gateway.engine.record_undelivered(case.conversation_id,
                                            "WhatsApp reported it failed (Twilio error 63003)",
                                            message_id="MM1")
    await gateway.until(lambda: len(gateway.thread(case)) == 1)
    assert gateway.thread(case) == [":warning: Not delivered to the customer: WhatsApp reported "
                                    "it failed (Twilio error 63003)"]
    assert gateway.latest(case) is case.parent  # the parent itself is unchanged
