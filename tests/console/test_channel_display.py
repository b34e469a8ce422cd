"""The console names no channel itself: each channel's label and icon come from the facts its
module declares, sent with the signed-in agent (so a new channel needs no console code)."""

from __future__ import annotations

from channels.registry import all_facts
from tests.console.conftest import AgentClient


async def test_the_signed_in_agent_gets_every_channels_label_icon_and_reply_window(
        ana: AgentClient) -> None:
    status, body = await ana.get("/me")
    assert status == 200
    assert body["channels"] == {name: {"label": facts.label, "icon": facts.icon,
                                       "reply_window_s": facts.reply_window_s}
                                for name, facts in all_facts().items()}
    assert all(shown["icon"].startswith("M") for shown in body["channels"].values())
