"""The core side of the channel port (bot/channel_port.py): one `ChannelIntake` per channel, over
the engine and the stores, with the channel's state kept under its own name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from bot.channel_port import ConversationView, Live
from bot.messages import InboundMessage, OutboundMessage
from bot.settings import Settings
from bot.stores import Stores

def undelivered_id(message_id: str) -> str:
    """The transcript id of the note that a message was not delivered."""
    return message_id + ":undelivered"


if TYPE_CHECKING:
    from bot.engine import ConversationEngine


class ChannelIntake:
    def __init__(self, channel: str, engine: ConversationEngine, stores: Stores,
                 settings: Settings) -> None:
        self.channel = channel
        self._engine = engine
        self._stores = stores
        self._settings = settings

    @property
    def live(self) -> Live:
        return self._stores.bus

    async def accept(self, message: InboundMessage) -> bool:
        if message.channel != self.channel:
            raise ValueError(f"the {self.channel} channel handed in a {message.channel} message")
        return await self._engine.accept(message)

    async def say(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        await self._engine.reply(conversation_id, messages)

    async def open_conversation(self, conversation_id: str, *, customer_id: str) -> None:
        await self._stores.conversations.update(conversation_id, channel=self.channel,
                                                customer_id=customer_id)

    async def known(self, conversation_id: str) -> bool:
        return await self._stores.conversations.exists(conversation_id)

    async def view(self, conversation_id: str, *,
                   acknowledging: bool = False) -> ConversationView:
        conversations = self._stores.conversations
        state = await (conversations.peek(conversation_id) if acknowledging
                       else conversations.get(conversation_id))
        return ConversationView(channel_data=state.channel_data,
                                offered_buttons=tuple(state.offered_buttons),
                                last_customer_message_at=state.last_seen)

    async def keep_channel_data(self, conversation_id: str, changes: Mapping[str, Any]) -> None:
        await self._stores.conversations.update_channel_data(conversation_id, changes)

    async def report_undelivered(self, conversation_id: str, detail: str, *,
                                 message_id: str) -> None:
        if not await self._stores.conversations.exists(conversation_id):
            return  # erased (or never ours): a late report must not bring anything back
        recorded = await self._stores.transcripts.recent(
            conversation_id, limit=self._settings.transcript_limit)
        if any(e.get("id") == undelivered_id(message_id) for e in recorded):
            return  # the platform reported it again
        await self._engine.record_undelivered(conversation_id, detail, message_id=message_id)

    async def first_seen(self, key: str) -> bool:
        return await self._stores.idempotency.first_seen(
            f"{self.channel}:{key}", ttl_s=self._stores.retention.dedupe_s)

    async def history(self, conversation_id: str, *, limit: int) -> list[dict[str, Any]]:
        return await self._stores.transcripts.recent(conversation_id, limit=limit)

    async def session(self, token: str) -> str | None:
        return await self._stores.sessions.get(token)

    async def keep_session(self, token: str, conversation_id: str) -> None:
        await self._stores.sessions.put(token, conversation_id,
                                        ttl_s=self._settings.webchat_session_ttl_s)
