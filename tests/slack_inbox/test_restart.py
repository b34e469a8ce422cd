"""The parent's ts lives in the case state (and an index) in the shared stores: after a restart,
or on another gateway instance, a thread reply or a button press still finds its case."""

from __future__ import annotations

from bot.stores import redis_stores
from tests.conftest import REDIS_URL
from tests.slack_inbox.conftest import AGENT, MakeGateway, messages_until


async def test_a_thread_reply_after_a_restart_still_reaches_the_customer(
        make_gateway: MakeGateway, redis_prefix: str) -> None:
    before = await make_gateway(redis_stores(REDIS_URL, prefix=redis_prefix))
    case = await before.open_case()
    await case.chat.send("are you there?")
    await before.until(lambda: len(before.thread(case)) == 1)
    await before.settle()
    await before.stop()

    after = await make_gateway(redis_stores(REDIS_URL, prefix=redis_prefix))
    chat = await after.chat(case.chat.session)  # the customer's tab reconnects
    await after.reply(case, "Yes, I'm here now.")
    joined, reply = await messages_until(chat, "agent")
    assert "joined the chat" in joined["text"]
    assert reply["text"] == "Yes, I'm here now."
    await after.settle()
    [update] = after.slack.updates()  # the same parent message, not a new one
    assert update["ts"] == case.ts
    assert len(after.parents()) == 1


async def test_buttons_work_on_another_instance(make_gateway: MakeGateway,
                                                redis_prefix: str) -> None:
    first, second = [await make_gateway(redis_stores(REDIS_URL, prefix=redis_prefix))
                     for _ in range(2)]
    case = await first.open_case()
    assert await second.press(case.parent, "Claim", AGENT) == 200
    assert (await first.status(case)).agent == f"slack:{AGENT}"
    await second.settle()
    assert [u["ts"] for u in second.slack.updates()] == [case.ts]
