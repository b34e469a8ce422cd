"""A channel's reply window as both inboxes show and enforce it: some channels deliver a text
reply only within a while of the customer's last message (WhatsApp: 24 hours). Read from the
channel's facts, so a new channel with a window needs nothing here."""

from __future__ import annotations

from bot.inbox_port import Case, ChannelFacts, ConversationStore


async def reply_until(case: Case, facts: ChannelFacts,
                      conversations: ConversationStore) -> float | None:
    """Until when (a Unix time) a text reply to the case's customer can be delivered; None when
    there is no limit or the case is closed."""
    if facts.reply_window_s is None or not case.is_open:
        return None
    conversation = await conversations.get(case.conversation_id)
    return facts.reply_until(conversation.last_seen)


def closed_reason(facts: ChannelFacts) -> str:
    hours = (facts.reply_window_s or 0) // 3600
    return (f"{facts.label} delivers text replies only within {hours} h of the customer's last "
            "message. When they write again, you can reply.")
