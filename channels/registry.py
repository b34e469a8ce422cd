"""Which channels run: the web chat always; each platform channel when its credentials are in the
environment. Adding a channel is one module plus one entry here."""

from __future__ import annotations

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


def specs(settings: Settings) -> list[ChannelSpec]:
    return [ChannelSpec("web", (), _webchat(settings))]


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
