"""The channels: each declares its facts (`FACTS`, bot/channel_facts.py) in its own module, and
runs when its credentials are in the environment; the web chat always runs. Adding a channel is
one module plus one entry here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping

from bot.channel_port import UNKNOWN, Channel, ChannelFacts, Intake
from channels import slack, sms, telegram, webchat, whatsapp

log = logging.getLogger(__name__)

Builder = Callable[[Intake, Mapping[str, str]], Channel]


@dataclass(frozen=True)
class ChannelSpec:
    facts: ChannelFacts
    required_env: tuple[str, ...]  # every one of these must be set
    build: Builder
    any_env: tuple[str, ...] = ()  # and at least one of these (where either will do)

    @property
    def name(self) -> str:
        return self.facts.name


SPECS: tuple[ChannelSpec, ...] = (
    ChannelSpec(webchat.FACTS, (), webchat.build),
    ChannelSpec(slack.FACTS, slack.REQUIRED_ENV, slack.build),
    ChannelSpec(telegram.FACTS, ("TELEGRAM_BOT_TOKEN",), telegram.build),
    ChannelSpec(sms.FACTS, sms.REQUIRED_ENV, sms.build, any_env=sms.SENDER_ENV),
    ChannelSpec(whatsapp.FACTS, whatsapp.REQUIRED_ENV, whatsapp.build),
)


def all_facts() -> dict[str, ChannelFacts]:
    """Every channel's facts, on or off (a case from a channel turned off still shows), and the
    stand-in for one the gateway does not know."""
    return {**{spec.name: spec.facts for spec in SPECS}, UNKNOWN.name: UNKNOWN}


def build_channels(intake_for: Callable[[str], Intake],
                   env: Mapping[str, str]) -> list[Channel]:
    """The channels whose credentials are set, each given the core's intake for its name."""
    channels: list[Channel] = []
    for spec in SPECS:
        missing = [name for name in spec.required_env if not env.get(name)]
        if spec.any_env and not any(env.get(name) for name in spec.any_env):
            missing.append(" or ".join(spec.any_env))
        if missing:
            log.info("channel %s: off (%s not set)", spec.name, ", ".join(missing))
            continue
        channels.append(spec.build(intake_for(spec.name), env))
        log.info("channel %s: on", spec.name)
    return channels
