"""Which channels run: the web chat always; each platform channel when its credentials are in the
environment. Adding a channel is one module plus one entry here."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Callable, Mapping

from bot.engine import ConversationEngine
from bot.settings import Settings
from channels.base import Channel
from channels.webchat import WebChatChannel

log = logging.getLogger(__name__)

Builder = Callable[[ConversationEngine, Mapping[str, str]], Channel]


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    required_env: tuple[str, ...]
    build: Builder


def _webchat(settings: Settings) -> Builder:
    return lambda engine, env: WebChatChannel(engine, allowed_origins=settings.webchat_allowed_origins)


def _lazy(module: str) -> Builder:
    """Import a platform module only when its channel is on, so an unused platform library is
    never loaded."""

    def build(engine: ConversationEngine, env: Mapping[str, str]) -> Channel:
        return importlib.import_module(module).build(engine, env)  # type: ignore[no-any-return]

    return build


def specs(settings: Settings) -> list[ChannelSpec]:
    return [
        ChannelSpec("web", (), _webchat(settings)),
        ChannelSpec("slack", ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"), _lazy("channels.slack")),
        ChannelSpec("telegram", ("TELEGRAM_BOT_TOKEN",), _lazy("channels.telegram")),
        ChannelSpec("sms", ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"),
                    _lazy("channels.sms")),
    ]


def build_channels(engine: ConversationEngine, settings: Settings,
                   env: Mapping[str, str]) -> list[Channel]:
    channels: list[Channel] = []
    for spec in specs(settings):
        missing = [name for name in spec.required_env if not env.get(name)]
        if missing:
            log.info("channel %s: off (%s not set)", spec.name, ", ".join(missing))
            continue
        channels.append(spec.build(engine, env))
        log.info("channel %s: on", spec.name)
    return channels
