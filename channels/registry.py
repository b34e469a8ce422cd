"""The channels: each declares its facts (`FACTS`, bot/channel_facts.py) in its own module, and
runs when its credentials are in the environment; the web chat always runs. Adding a channel is
one module plus one entry here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping

from bot.channel_facts import UNKNOWN, ChannelFacts
from bot.engine import ConversationEngine
from bot.settings import Settings
from channels import slack, sms, telegram, webchat
from channels.base import Channel

log = logging.getLogger(__name__)

Builder = Callable[[ConversationEngine, Mapping[str, str]], Channel]


@dataclass(frozen=True)
class ChannelSpec:
    facts: ChannelFacts
    required_env: tuple[str, ...]
    build: Builder

    @property
    def name(self) -> str:
        return self.facts.name


def _webchat(settings: Settings) -> Builder:
    return lambda engine, env: webchat.WebChatChannel(
        engine, allowed_origins=settings.webchat_allowed_origins)


def specs(settings: Settings) -> list[ChannelSpec]:
    return [
        ChannelSpec(webchat.FACTS, (), _webchat(settings)),
        ChannelSpec(slack.FACTS, slack.REQUIRED_ENV, slack.build),
        ChannelSpec(telegram.FACTS, ("TELEGRAM_BOT_TOKEN",), telegram.build),
        ChannelSpec(sms.FACTS, sms.REQUIRED_ENV, sms.build),
    ]


def all_facts() -> dict[str, ChannelFacts]:
    """Every channel's facts, on or off (a case from a channel turned off still shows), and the
    stand-in for one the gateway does not know."""
    facts = {spec.name: spec.facts for spec in specs(Settings())}
    return {**facts, UNKNOWN.name: UNKNOWN}


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
