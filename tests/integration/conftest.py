"""The whole assistant, for real: trained model, Rasa server, action server, demo backend and
gateway as separate processes on free ports, with a temporary state directory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import pytest

from bot.stack import Ports, Stack
from tests.chat_client import ChatClient


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(ports=Ports.free(), state_dir=Path(tmp_path_factory.mktemp("stack")))
    try:
        asyncio.run(running.start())
    except BaseException:
        for log in sorted((running.state_dir / "logs").glob("*.log")):
            print(f"----- {log.name} (tail) -----")
            print("\n".join(log.read_text(errors="replace").splitlines()[-40:]))
        raise
    yield running
    running.stop()


OpenChat = Callable[[], Awaitable[ChatClient]]


@pytest.fixture
async def open_chat(stack: Stack) -> AsyncIterator[OpenChat]:
    sessions: list[aiohttp.ClientSession] = []

    async def open_() -> ChatClient:
        http = aiohttp.ClientSession()
        sessions.append(http)
        chat = ChatClient(await http.ws_connect(f"{stack.gateway_url}/webchat/ws"))
        await chat.hello()
        return chat

    yield open_
    for http in sessions:
        await http.close()


async def read_case(stack: Stack, case_id: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.gateway_url}/handoff/v1/cases/{case_id}",
                            headers={"Authorization": f"Bearer {stack.handoff_secret}"}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()
