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
    # At its end the warm-up tries to connect to the server's own port: refused means no
    # customer could have reached the server before it was warm.
    log = (stack.state_dir / "logs" / "rasa-server.log").read_text(errors="replace")
    line = next(x for x in log.splitlines() if "bot.rasa_server  - warm-up turn took" in x)
    assert f"(port {stack.ports.rasa} not listening yet)" in line


async def test_the_warm_up_stored_no_conversation(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.ports.rasa}/conversations/warm-up/tracker"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, params={"token": stack.rasa_token}) as resp:
            tracker = await resp.json()
    assert not [e for e in tracker["events"] if e.get("text") == WARM_UP_TEXT]
