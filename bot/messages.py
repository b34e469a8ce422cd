"""The value types that cross the core. Channels translate platform payloads to and from these;
nothing past a channel module ever sees a Slack, Telegram, Twilio or browser object."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["customer", "bot", "agent", "system"]


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Button:
        return cls(title=str(data["title"]), payload=str(data["payload"]))


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: Literal["image", "audio", "video", "file", "sticker", "other"]
    url: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One thing a customer sent, already verified and de-platformed by its channel."""

    channel: str
    conversation_id: str
    customer_id: str
    text: str
    platform_message_id: str
    # Set when the customer pressed a button: the payload we offered, not free text.
    button_payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    received_at: float = field(default_factory=time.time)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "conversation_id": self.conversation_id,
            "customer_id": self.customer_id,
            "text": self.text,
            "platform_message_id": self.platform_message_id,
            "button_payload": self.button_payload,
            "attachments": [
                {"kind": a.kind, "url": a.url, "mime_type": a.mime_type} for a in self.attachments
            ],
            "received_at": self.received_at,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboundMessage:
        return cls(
            channel=data["channel"],
            conversation_id=data["conversation_id"],
            customer_id=data["customer_id"],
            text=data["text"],
            platform_message_id=data["platform_message_id"],
            button_payload=data.get("button_payload"),
            attachments=tuple(Attachment(**a) for a in data.get("attachments", ())),
            received_at=float(data["received_at"]),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One thing we say to a customer: text, optional buttons, optional image."""

    text: str
    buttons: tuple[Button, ...] = ()
    image_url: str | None = None
    role: Role = "bot"
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    sent_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "role": self.role,
            "text": self.text,
            "buttons": [b.to_dict() for b in self.buttons],
            "image_url": self.image_url,
            "ts": self.sent_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboundMessage:
        return cls(
            text=data.get("text", ""),
            buttons=tuple(Button.from_dict(b) for b in data.get("buttons", ())),
            image_url=data.get("image_url"),
            role=data.get("role", "bot"),
            message_id=data.get("id") or uuid.uuid4().hex,
            sent_at=float(data.get("ts") or time.time()),
        )

    def text_with_numbered_options(self) -> str:
        """The fallback for channels without buttons (SMS): options become a numbered list."""
        if not self.buttons:
            return self.text
        lines = [self.text, ""] if self.text else []
        lines += [f"{i}. {b.title}" for i, b in enumerate(self.buttons, start=1)]
        lines.append("Reply with a number.")
        return "\n".join(lines)
