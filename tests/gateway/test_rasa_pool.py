"""RasaPool (bot/rasa_pool.py): conversations spread over several Rasa servers by a stable hash,
a server that refuses connections is skipped until it answers again, and a request that may have
reached a live server is never sent to a second one."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.rasa_client import RasaUnavailable, RasaUnreachable
from bot.rasa_input import RasaText
from bot.rasa_pool import RasaPool, home_order
from bot.stack import free_port
from tests.fakes.rasa import TOKEN, FakeRasa
from tests.stores.conftest import FakeClock
from tests.conftest import Serve


@dataclass
class Servers:
    fakes: list[FakeRasa]
    urls: list[str]
    clock: FakeClock
    pool: RasaPool


CONVERSATIONS = [f"web:c{n}" for n in range(40)]


@pytest.fixture
async def servers(serve: Serve) -> AsyncIterator[Servers]:
    fakes = [FakeRasa(), FakeRasa()]
    urls = [await serve(f.app()) for f in fakes]
    # A third server that was never started: every connection to it is refused.
    urls.append(f"http://127.0.0.1:{free_port()}")
    clock = FakeClock()
    pool = RasaPool.from_urls(urls, token=TOKEN, timeout_s=5.0, clock=clock, down_for_s=5.0)
    await pool.open()
    yield Servers(fakes, urls, clock, pool)
    await pool.close()


async def say(pool: RasaPool, cid: str, text: str = "hi") -> None:
    await pool.send(conversation_id=cid, text=RasaText.free_text(text), metadata={})


def served_by(fakes: list[FakeRasa], cid: str) -> list[int]:
    return [i for i, f in enumerate(fakes) if f.texts_of(cid)]


def test_the_home_server_is_stable_and_spread() -> None:
    urls = ["http://a:5005", "http://b:5005", "http://c:5005"]
    homes = [home_order(cid, urls)[0] for cid in CONVERSATIONS]
    assert homes == [home_order(cid, list(urls))[0] for cid in CONVERSATIONS]
    assert set(homes) == {0, 1, 2}


def test_removing_a_server_moves_only_its_conversations() -> None:
    urls = ["http://a:5005", "http://b:5005", "http://c:5005"]
    before = {cid: urls[home_order(cid, urls)[0]] for cid in CONVERSATIONS}
    after = {cid: urls[[0, 1][home_order(cid, urls[:2])[0]]] for cid in CONVERSATIONS}
    moved = {cid for cid in CONVERSATIONS if before[cid] != after[cid]}
    assert moved == {cid for cid in CONVERSATIONS if before[cid] == "http://c:5005"}


async def test_each_conversation_is_served_by_one_server(servers: Servers) -> None:
    for cid in CONVERSATIONS:
        for text in ("one", "two"):
            await say(servers.pool, cid, text)
    for cid in CONVERSATIONS:
        assert len(served_by(servers.fakes, cid)) == 1, cid
    assert all(f.texts() for f in servers.fakes)  # both live servers have conversations


async def test_conversations_of_an_unreachable_server_go_to_another(servers: Servers) -> None:
    homed_on_dead = [cid for cid in CONVERSATIONS
                     if home_order(cid, servers.urls)[0] == 2]
    assert homed_on_dead
    for cid in homed_on_dead:
        await say(servers.pool, cid)
        assert len(served_by(servers.fakes, cid)) == 1
    assert servers.pool.up() == [True, True, False]


async def test_a_server_that_fails_keeps_its_request(servers: Servers) -> None:
    cid = next(c for c in CONVERSATIONS if home_order(c, servers.urls)[0] == 0)
    servers.fakes[0].down = True  # answers 500: up, so never a second server for this request
    with pytest.raises(RasaUnavailable):
        await say(servers.pool, cid)
    assert servers.fakes[1].texts_of(cid) == []
    servers.fakes[0].down = False
    await say(servers.pool, cid, "back")
    assert servers.fakes[0].texts_of(cid)[-1] == "back"


async def test_a_refusing_server_is_retried_after_its_pause(servers: Servers) -> None:
    cid = next(c for c in CONVERSATIONS if home_order(c, servers.urls)[0] == 2)
    await say(servers.pool, cid)
    assert servers.pool.up()[2] is False
    servers.clock.now += 5.1
    assert servers.pool.up()[2] is True  # tried first again (and refused again, then skipped)
    await say(servers.pool, cid)
    assert servers.pool.up()[2] is False


async def test_no_reachable_server_is_rasa_unavailable() -> None:
    pool = RasaPool.from_urls([f"http://127.0.0.1:{free_port()}" for _ in range(2)],
                              token=TOKEN, timeout_s=2.0)
    await pool.open()
    try:
        with pytest.raises(RasaUnavailable):
            await say(pool, "web:x")
        assert await pool.is_ready() is False
    finally:
        await pool.close()


async def test_the_pool_is_ready_while_any_server_is(servers: Servers) -> None:
    servers.fakes[0].down = True
    assert await servers.pool.is_ready() is True


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A port where connection attempts hang, like a powered-off host: a socket that listens with
    a full backlog and never accepts (Linux then drops the SYNs)."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}"
    for sock in (*fillers, hole):
        sock.close()


async def test_a_host_that_never_answers_is_skipped_after_the_connect_timeout(
        black_hole: str, serve: Serve) -> None:
    fake = FakeRasa()
    urls = [black_hole, await serve(fake.app())]
    pool = RasaPool.from_urls(urls, token=TOKEN, timeout_s=30.0)
    await pool.open()
    try:
        cid = next(c for c in CONVERSATIONS if home_order(c, urls)[0] == 0)
        await say(pool, cid)
        assert fake.texts_of(cid) == ["hi"] and pool.up() == [False, True]
    finally:
        await pool.close()


async def test_an_escalation_is_recorded_once_when_its_server_dies_half_way(
        servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    """escalate() records the message, then triggers the handoff intent. If its server stops
    taking connections between the two, the other server must not record the message a second
    time: the pool gets a plain outage, and the engine looks the message up (find_turn) and then
    runs only the handoff."""
    cid = next(c for c in CONVERSATIONS if home_order(c, servers.urls)[0] == 0)
    home = servers.pool._clients[0]
    real_json = home._json
    calls: list[str] = []

    async def dies_after_recording(method: str, url: str, *, what: str, **kwargs: Any) -> Any:
        calls.append(what)
        if what == "trigger_intent":
            raise RasaUnreachable("Rasa trigger_intent: ClientConnectorError: refused")
        return await real_json(method, url, what=what, **kwargs)

    monkeypatch.setattr(home, "_json", dies_after_recording)
    with pytest.raises(RasaUnavailable) as raised:
        await servers.pool.escalate(conversation_id=cid, text=RasaText.free_text("agent"),
                                    metadata={}, trigger={"kind": "customer_request"})
    assert not isinstance(raised.value, RasaUnreachable)
    assert calls == ["events", "trigger_intent"]
    recorded = [[c for c, _ in fake.api_events if c == cid] for fake in servers.fakes]
    assert recorded == [[cid], []]  # recorded once, at home, and nowhere else
