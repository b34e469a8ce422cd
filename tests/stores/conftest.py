"""The store contract suite runs every test against the SQLite stores (the embedded default, on a
file) and the real Redis. `elapse` moves time forward: the SQLite stores read an injected clock,
Redis expires keys by its own clock, so there it really waits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest

from bot.messages import InboundMessage
from bot.state import Case, CaseStatus
from bot.stores import Retention, Stores, redis_stores, sqlite_stores
from tests.conftest import REDIS_URL


@dataclass
class FakeClock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    stores: Stores
    elapse: Callable[[float], Awaitable[None]]


SHORT = Retention(conversations_s=2, transcripts_s=2, cases_s=2, audit_s=2, journal_s=2,
                  dedupe_s=2)


def build(kind: str, tmp_path: Path, prefix: str, retention: Retention) -> Backend:
    if kind == "sqlite":
        clock = FakeClock()

        async def advance(seconds: float) -> None:
            clock.now += seconds

        return Backend(sqlite_stores(tmp_path / "gateway.db", retention=retention, clock=clock),
                       advance)
    return Backend(redis_stores(REDIS_URL, prefix=prefix, retention=retention), asyncio.sleep)


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path,
                  redis_prefix: str) -> AsyncIterator[Backend]:
    built = build(request.param, tmp_path, redis_prefix, Retention())
    await built.stores.start()
    yield built
    await built.stores.close()


@pytest.fixture
def stores(backend: Backend) -> Stores:
    return backend.stores


@pytest.fixture(params=["sqlite", "redis"])
async def short_lived(request: pytest.FixtureRequest, tmp_path: Path,
                      redis_prefix: str) -> AsyncIterator[Backend]:
    """Stores that keep everything for 2 seconds."""
    built = build(request.param, tmp_path, redis_prefix, SHORT)
    await built.stores.start()
    yield built
    await built.stores.close()


def inbound(cid: str, mid: str, text: str = "hi") -> InboundMessage:
    return InboundMessage(channel="web", conversation_id=cid, customer_id=cid, text=text,
                          platform_message_id=mid, received_at=1.0)


def a_case(case_id: str, conversation_id: str,
           status: CaseStatus = CaseStatus.QUEUED) -> Case:
    return Case(case_id=case_id, conversation_id=conversation_id, channel="web",
                customer_id=conversation_id, trigger={"kind": "customer_request"},
                package={"transcript": [], "steps_tried": []}, opened_at=1.0, status=status)
