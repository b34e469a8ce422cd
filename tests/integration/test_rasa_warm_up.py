"""The Rasa server as `make run` starts it runs one warm-up turn before it opens its port, so the
first customer after a start or restart does not pay for TensorFlow tracing its graphs, and the
warm-up leaves no conversation behind."""

from __future__ import annotations

import aiohttp
import pytest

from bot.rasa_server import WARM_UP_TEXT
from bot.stack import Stack

pytestmark = pytest.mark.integration


def test_the_warm_up_ran_before_the_server_listened(stack: Stack) -> None:
    # The warm-up runs inside Rasa's before_server_start listener, right after the model loaded:
    # Sanic binds the port only once that listener has returned.
    log = (stack.state_dir / "logs" / "rasa-server.log").read_text(errors="replace")
    assert log.index("Rasa server is up and running") < log.index("bot.rasa_server  - warm-up turn took")


async def test_the_warm_up_stored_no_conversation(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.ports.rasa}/conversations/warm-up/tracker"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, params={"token": stack.rasa_token}) as resp:
            tracker = await resp.json()
    assert not [e for e in tracker["events"] if e.get("text") == WARM_UP_TEXT]
