"""Writing a new message down (transcript, conversation state) takes one of a few recording
slots, so a burst of acknowledgements is not starved by every drain doing its bookkeeping at
once (benchmarks/webhook_ack.py measures that); the escalation rules' calls to Rasa's NLU or a
backend run outside the slots, so a slow one never holds the other conversations up."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.engine import ConversationEngine
from bot.messages import InboundMessage
from bot.stores import Stores, TranscriptStore
from tests.conftest import Serve
from tests.fakes.rasa import FakeRasa
from tests.gateways import start_gateway


class CountingTranscripts:
    """The real transcript store, with each customer line held a moment (a slow store) and the
    most such lines seen being written at once counted (the bot's answers are written later,
    as they are delivered, outside the slots)."""

    def __init__(self, inner: TranscriptStore) -> None:
        self._inner = inner
        self.running = 0
        self.most = 0

    async def append(self, conversation_id: str, entry: dict[str, Any], *, limit: int) -> None:
        if entry["role"] != "customer":
            return await self._inner.append(conversation_id, entry, limit=limit)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.01)
            await self._inner.append(conversation_id, entry, limit=limit)
        finally:
            self.running -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def stores(file_stores: Stores) -> Stores:
    return file_stores


def message(conversation: str, text: str) -> InboundMessage:
    cid = f"web:{conversation}"
    return InboundMessage(channel="web", conversation_id=cid, customer_id=cid, text=text,
                          platform_message_id=f"{cid}:1", received_at=1.0)


async def bot_lines(stores: Stores, conversation: str) -> list[str]:
    return [e["text"] for e in await stores.transcripts.recent(f"web:{conversation}", limit=20)
            if e["role"] == "bot"]


@pytest.mark.parametrize("slots", [1, 2, 4])
async def test_at_most_the_configured_number_of_conversations_record_at_once(
        fake_rasa: tuple[FakeRasa, str], stores: Stores, slots: int) -> None:
    rasa, url = fake_rasa
    transcripts = CountingTranscripts(stores.transcripts)
    counted = dataclasses.replace(stores, transcripts=transcripts)
    gateway = await start_gateway(rasa, url, stores=counted, recording_concurrency=slots)
    engine: ConversationEngine = gateway.engine
    try:
        for i in range(8):
            assert await engine.accept(message(f"c{i}", f"hello {i}"))
        await engine.idle()
        assert transcripts.most == slots
        assert [await bot_lines(stores, f"c{i}") for i in range(8)] == \
            [[f"You said: hello {i}"] for i in range(8)]
    finally:
        await gateway.stop()


@dataclasses.dataclass
class SlowNlu(FakeRasa):
    """Rasa whose NLU (the escalation rules' intent check) answers "slow ..." only when told."""
    release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    asked: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def _parse(self, request: web.Request) -> web.Response:
        if str((await request.json()).get("text", "")).startswith("slow"):
            self.asked.set()
            await self.release.wait()
        return await super()._parse(request)


async def test_a_slow_escalation_check_does_not_hold_a_recording_slot(
        serve: Serve, stores: Stores, tmp_path: Path) -> None:
    rules = tmp_path / "escalation.yml"
    rules.write_text("rules:\n  - name: angry_complaint\n    intents: [complaint]\n")
    rasa = SlowNlu()
    url = await serve(rasa.app())
    gateway = await start_gateway(rasa, url, stores=stores, recording_concurrency=1,
                                  escalation_rules_file=str(rules))
    try:
        assert await gateway.engine.accept(message("a", "slow question"))
        async with asyncio.timeout(5):
            await rasa.asked.wait()
            assert await gateway.engine.accept(message("b", "quick question"))
            while await bot_lines(stores, "b") != ["You said: quick question"]:
                await asyncio.sleep(0.01)
        assert await bot_lines(stores, "a") == []  # still waiting for the NLU
        rasa.release.set()
        await gateway.engine.idle()
        assert await bot_lines(stores, "a") == ["You said: slow question"]
    finally:
        rasa.release.set()
        await gateway.stop()
