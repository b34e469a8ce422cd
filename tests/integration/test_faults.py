"""Fault injection on the real stack (its own processes, ended by their own PIDs): killing the
gateway with messages in flight, killing and restarting the Rasa server mid-conversation, killing
the action server. Customers behave like the web chat widget (tests/customers.py); every figure
is counted from what they were shown: nothing lost, nothing answered twice, nothing out of
order. The stack's supervisor (what `make run` runs) brings a killed process back by itself.

Each test prints its tally (pytest -s shows it); the counts are asserted."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from typing import AsyncIterator, Iterator

import aiohttp
import pytest

from bot.engine import HANDOFF_WHILE_DOWN, NO_ANSWER_REPLY, OUTAGE_REPLY
from bot.stack import Ports, Stack
from tests.customers import WidgetCustomer, settle
from tests.integration.test_conversations import FAQ_ANSWERS, FAQ_QUESTIONS

pytestmark = pytest.mark.integration

TOPICS = ["shipping_time", "shipping_cost", "international_shipping", "return_policy",
          "refund_time", "payment_methods", "support_hours", "warranty", "gift_cards"]
ANSWERS = {FAQ_QUESTIONS[t]: FAQ_ANSWERS[t] for t in TOPICS}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(ports=Ports.free(), state_dir=Path(tmp_path_factory.mktemp("faults")),
                    say=lambda line: None)
    try:
        asyncio.run(running.start())
    except BaseException:
        running.stop()
        raise
    yield running
    running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def customers(stack: Stack, http: aiohttp.ClientSession, count: int) -> list[WidgetCustomer]:
    started = [WidgetCustomer(stack.gateway_url, http) for _ in range(count)]
    await asyncio.gather(*(c.start() for c in started))
    return started


async def ask(crowd: list[WidgetCustomer], questions_each: int, *, offset: int = 0) -> None:
    """Every customer asks its questions back to back, without waiting for answers."""
    for round_ in range(questions_each):
        for i, customer in enumerate(crowd):
            await customer.say(list(ANSWERS)[(i + round_ + offset) % len(ANSWERS)])
    await asyncio.gather(*(c.acked() for c in crowd))


async def test_killing_the_gateway_with_messages_in_flight_loses_nothing(
        stack: Stack, http: aiohttp.ClientSession) -> None:
    crowd = await customers(stack, http, 6)
    await ask(crowd, 4)  # 24 questions, all acknowledged (journalled)
    answered_before = sum(len(c.replies()) for c in crowd)
    stack.kill(stack.process("gateway"))  # SIGKILL: no shutdown at all
    await stack.restart(stack.process("gateway"))
    result = await settle(crowd, ANSWERS, timeout_s=120)
    print(f"\ngateway SIGKILL: {answered_before} of 24 answered before the kill; {result.line()}")
    assert answered_before < result.questions  # the kill really caught work in flight
    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0)
    for customer in crowd:
        await customer.stop()


async def test_killing_and_restarting_rasa_mid_conversation_loses_nothing(
        stack: Stack, http: aiohttp.ClientSession) -> None:
    crowd = await customers(stack, http, 4)
    await ask(crowd, 1)
    await settle(crowd, ANSWERS, timeout_s=60)
    rasa = stack.process("rasa server")
    stack.kill(rasa)
    await ask(crowd, 2, offset=3)  # acknowledged while Rasa is dead
    await stack.restart(rasa, timeout_s=240)
    result = await settle(crowd, ANSWERS, timeout_s=120)
    print(f"\nRasa SIGKILL and restart: {result.line()}")
    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0)
    notices = [f["text"] for c in crowd for f in c.replies("system")]
    assert notices and set(notices) == {OUTAGE_REPLY}  # told honestly, once per customer
    assert len(notices) == len(crowd)
    for customer in crowd:
        await customer.stop()


async def test_with_the_action_server_dead_every_message_is_answered_and_a_person_reachable(
        stack: Stack, http: aiohttp.ClientSession) -> None:
    actions = stack.process("action server")
    stack.kill(actions)
    try:
        [customer] = await customers(stack, http, 1)
        for text in ("how much is shipping", "where is my order", "agent"):
            await customer.say(text)
            await customer.acked()
            async with asyncio.timeout(60):
                while len(customer.replies("bot", "system")) < len(customer.asked):
                    await asyncio.sleep(0.1)
        texts = [f["text"] for f in customer.replies("bot", "system")]
        assert texts[0] == ANSWERS["how much is shipping"]  # FAQ answers need no action
        # The order form needs the action server: an honest answer, not silence.
        assert texts[1] == NO_ANSWER_REPLY or "order number" in texts[1]
        # "agent" still reaches a person: the gateway opens the case itself.
        prefix, _, suffix = HANDOFF_WHILE_DOWN.partition("{case_id}")
        assert texts[2].startswith(prefix + "C-") and texts[2].endswith(suffix)
        await customer.stop()
    finally:
        await stack.restart(actions)


async def test_a_process_that_dies_is_brought_back_by_the_supervisor(stack: Stack) -> None:
    said: list[str] = []
    stack.say = said.append
    stop = asyncio.Event()
    supervisor = asyncio.create_task(stack.supervise(stop))
    backend = stack.process("demo backend")
    old_pid = backend.pid
    stack.kill(backend)
    async with asyncio.timeout(60):
        while not any("demo backend is back" in line for line in said):
            await asyncio.sleep(0.1)
    stop.set()
    await supervisor
    assert backend.running() and backend.pid != old_pid
    assert any(re.search(r"demo backend exited \(-9\); restarting it in 1s", s) for s in said)


def listening(pid: int) -> set[str]:
    """Local addresses the process (or its children) listens on."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    # The process group: the process and anything it started (start_new_session=True).
    group = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout
    pids = {str(pid), *group.split()}
    found = set()
    for line in out.splitlines():
        if any(f"pid={p}," in line for p in pids):
            found.add(line.split()[3].rsplit(":", 1)[0])
    return found


@pytest.mark.parametrize("name", ["demo backend", "action server", "rasa server", "gateway"])
def test_every_process_listens_on_loopback_only(stack: Stack, name: str) -> None:
    proc = stack.process(name)
    assert proc.pid is not None
    addresses = listening(proc.pid)
    assert addresses == {"127.0.0.1"}, addresses


@pytest.mark.parametrize("name", ["demo backend", "action server", "rasa server", "gateway"])
def test_no_secret_is_on_a_command_line(stack: Stack, name: str) -> None:
    # Every local user can read a command line (ps); secrets travel in the environment.
    proc = stack.process(name)
    assert proc.pid is not None
    command_line = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
    for secret in (stack.rasa_token, stack.action_token, stack.backend_token,
                   stack.handoff_secret):
        assert secret not in command_line


async def test_the_action_server_refuses_a_call_without_its_token(
        stack: Stack, http: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{stack.ports.actions}/webhook"
    body = {"next_action": "action_order_status", "tracker": {"sender_id": "x"}, "domain": {}}
    async with http.post(url, json=body) as resp:
        assert resp.status == 401
    async with http.post(url, json=body, params={"token": "guess"}) as resp:
        assert resp.status == 401


async def test_the_demo_backend_refuses_a_call_without_its_token(
        stack: Stack, http: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{stack.ports.backend}/v1/customers/lookup"
    async with http.get(url, params={"contact": "jane.doe@example.com"}) as resp:
        assert resp.status == 401


@pytest.mark.parametrize("path", ["/status", "/conversations/web:x/tracker"])
async def test_rasas_http_api_refuses_a_call_without_its_token(
        stack: Stack, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(f"http://127.0.0.1:{stack.ports.rasa}{path}") as resp:
        assert resp.status == 401
