"""The storage contract (bot/tracker_storage.py): every test runs on SQLite, PostgreSQL and
Redis, and what must be gone is checked in the tables / keys themselves."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.redaction import without_contacts
from bot.tracker_storage import RedisTrackerStorage, TrackerRetention
from tests.tracker_store.conftest import Place, Storage

DAY_S = 86400
Event = dict[str, Any]


def user(text: str, ts: float = 1.0) -> Event:
    return {"event": "user", "text": text, "timestamp": ts,
            "parse_data": {"text": text, "intent": {"name": "inform", "confidence": 0.9},
                           "entities": []}}


def action(name: str) -> Event:
    return {"event": "action", "name": name, "timestamp": 1.0}


def session_start() -> Event:
    return {"event": "session_started", "timestamp": 1.0}


def texts(events: list[Event]) -> list[str]:
    return [e.get("text") or e.get("name") or e["event"] for e in events]


# --- append and read -----------------------------------------------------------------------
async def test_an_unknown_conversation_has_nothing(storage: Storage) -> None:
    assert await storage.session_events("nobody") == []
    assert await storage.all_events("nobody") == []
    assert await storage.session_length("nobody") == 0
    assert await storage.senders() == []


async def test_appends_read_back_in_order(storage: Storage) -> None:
    await storage.append("c1", [action("action_listen"), user("one")])
    await storage.append("c1", [user("two")])
    await storage.append("c1", [])  # nothing new: nothing changes
    assert texts(await storage.all_events("c1")) == ["action_listen", "one", "two"]


async def test_before_any_session_start_the_session_is_everything(storage: Storage) -> None:
    await storage.append("c1", [action("action_listen"), user("one"), user("two")])
    assert texts(await storage.session_events("c1")) == ["action_listen", "one", "two"]
    assert await storage.session_length("c1") == 3


@pytest.mark.parametrize("batches, session, length", [
    # the session start arrives in its own append
    ([[user("old")], [session_start()], [user("new")]], ["session_started", "new"], 2),
    # ...in the middle of an append, after events of the session that is over
    ([[user("old")], [user("older"), session_start(), user("new")]],
     ["session_started", "new"], 2),
    # ...twice in one append: only the last one counts
    ([[session_start(), user("a"), session_start(), user("b"), user("c")]],
     ["session_started", "b", "c"], 3),
    # ...in a later append than an earlier session start
    ([[session_start(), user("a")], [session_start()]], ["session_started"], 1),
], ids=["own-append", "mid-append", "twice-in-one", "later-append"])
async def test_reads_start_at_the_latest_session_start(
        storage: Storage, batches: list[list[Event]], session: list[str], length: int) -> None:
    for batch in batches:
        await storage.append("c1", batch)
    assert texts(await storage.session_events("c1")) == session
    assert await storage.session_length("c1") == length
    # the full conversation is still there, in order
    assert texts(await storage.all_events("c1")) == texts([e for b in batches for e in b])


async def test_conversations_are_kept_apart(storage: Storage) -> None:
    await storage.append("c1", [user("for c1")])
    await storage.append("c2", [session_start(), user("for c2")])
    assert texts(await storage.all_events("c1")) == ["for c1"]
    assert texts(await storage.session_events("c2")) == ["session_started", "for c2"]
    assert await storage.session_length("c1") == 1


@pytest.mark.parametrize("text", ["emoji 😀 and accents é", "a lone surrogate \ud800 pasted"],
                         ids=["non-ascii", "lone-surrogate"])
async def test_any_text_a_customer_can_send_is_stored(storage: Storage, text: str) -> None:
    # JSON from a web socket can carry a lone surrogate; it must not make the save fail.
    await storage.append("c1", [user(text)])
    assert texts(await storage.all_events("c1")) == [text]


async def test_a_long_batch_is_stored_whole(storage: Storage) -> None:
    # A tracker replayed at once (an adopted conversation, an import) is one append; Redis's
    # Lua unpack() alone stops at about 8000 values.
    batch = [user(f"m{i}") for i in range(10_000)]
    await storage.append("c1", batch)
    assert await storage.session_length("c1") == 10_000
    assert texts(await storage.session_events("c1"))[-1] == "m9999"


async def test_senders_lists_each_conversation_once(storage: Storage) -> None:
    for sender in ("b", "a", "b"):
        await storage.append(sender, [user("hi")])
    assert await storage.senders() == ["a", "b"]


# --- delete --------------------------------------------------------------------------------
async def test_delete_leaves_nothing_of_the_conversation(place: Place, storage: Storage) -> None:
    await storage.append("erase-me", [user("my mail is zebra.quokka@example.com"),
                                      session_start(), user("second session")])
    await storage.append("keep-me", [user("still here")])
    assert await storage.delete("erase-me") == 3
    assert await storage.all_events("erase-me") == []
    assert await storage.session_length("erase-me") == 0
    assert await storage.senders() == ["keep-me"]
    stored = await place.dump()
    for trace in ("erase-me", "zebra.quokka", "second session"):
        assert trace not in stored
    assert "still here" in stored


@pytest.mark.parametrize("place", ["sqlite"], indirect=True)
async def test_delete_overwrites_the_sqlite_file_too(place: Place, storage: Storage) -> None:
    # A deleted row's bytes stay in the file's free space unless SQLite overwrites them.
    await storage.append("erase-me", [user("zebra.quokka@example.com " * 20)])
    await storage.append("keep-me", [user("still here")])
    await storage.delete("erase-me")
    await storage.close()  # the last connection checkpoints the WAL into the file
    assert place.sql_url is not None
    folder = Path(place.sql_url.removeprefix("sqlite:///")).parent
    for file in folder.iterdir():
        assert b"zebra.quokka" not in file.read_bytes(), file.name


async def test_deleting_an_unknown_conversation_deletes_nothing(storage: Storage) -> None:
    await storage.append("c1", [user("hi")])
    assert await storage.delete("nobody") == 0
    assert len(await storage.all_events("c1")) == 1


async def test_a_deleted_conversation_starts_afresh(storage: Storage) -> None:
    await storage.append("c1", [user("a"), session_start(), user("b")])
    await storage.delete("c1")
    await storage.append("c1", [user("new")])
    assert texts(await storage.session_events("c1")) == ["new"]
    assert await storage.session_length("c1") == 1


# --- contacts ------------------------------------------------------------------------------
async def test_mask_contacts_rewrites_only_sessions_that_are_over(storage: Storage) -> None:
    await storage.append("c1", [user("old: jane.doe@example.com"), user("no contact here"),
                                session_start(), user("current: jane.doe@example.com")])
    assert await storage.mask_contacts("c1", without_contacts) == 1
    assert texts(await storage.all_events("c1")) == [
        "old: j***@example.com", "no contact here", "session_started",
        "current: jane.doe@example.com"]


async def test_mask_contacts_does_each_session_once(storage: Storage) -> None:
    await storage.append("c1", [user("first +1 555 010 0001"), session_start()])
    assert await storage.mask_contacts("c1", without_contacts) == 1
    assert await storage.mask_contacts("c1", without_contacts) == 0  # nothing new is over
    await storage.append("c1", [user("second omar@example.org"), session_start()])
    assert await storage.mask_contacts("c1", without_contacts) == 1
    assert texts(await storage.all_events("c1")) == [
        "first [phone ***0001]", "session_started", "second o***@example.org",
        "session_started"]


# --- sweep ---------------------------------------------------------------------------------
async def test_sweep_masks_contacts_of_idle_conversations(place: Place, storage: Storage) -> None:
    await storage.append("idle", [session_start(), user("jane.doe@example.com")])
    await place.elapse(DAY_S - 60)
    await storage.append("recent", [session_start(), user("omar@example.org")])
    await place.elapse(120)  # "idle" is now a day quiet, "recent" two minutes
    assert await storage.sweep(without_contacts) == (1, 0)
    assert texts(await storage.all_events("idle")) == ["session_started", "j***@example.com"]
    assert texts(await storage.all_events("recent")) == ["session_started", "omar@example.org"]
    stored = await place.dump()
    assert "jane.doe@" not in stored and "omar@example.org" in stored


async def test_a_later_sweep_masks_only_what_came_since(place: Place, storage: Storage) -> None:
    await storage.append("c1", [user("jane.doe@example.com")])
    await place.elapse(DAY_S + 1)
    assert (await storage.sweep(without_contacts))[0] == 1
    assert (await storage.sweep(without_contacts))[0] == 0
    await storage.append("c1", [user("back: omar@example.org")])
    await place.elapse(DAY_S + 1)
    assert (await storage.sweep(without_contacts))[0] == 1
    assert texts(await storage.all_events("c1")) == ["j***@example.com", "back: o***@example.org"]


async def test_a_conversation_idle_past_retention_is_gone(place: Place, storage: Storage) -> None:
    await storage.append("expired", [user("jane.doe@example.com"), session_start(), user("x")])
    await place.elapse(30 * DAY_S - 100)
    await storage.append("alive", [user("still talking")])
    await place.elapse(101)  # Redis: its keys' TTLs ran out; SQL: the sweep deletes
    await storage.sweep(without_contacts)
    assert await storage.all_events("expired") == []
    assert await storage.senders() == ["alive"]
    stored = await place.dump()
    assert "expired" not in stored and "jane.doe" not in stored
    assert "still talking" in stored


async def test_retention_counts_from_the_last_event(place: Place, storage: Storage) -> None:
    await storage.append("c1", [user("first")])
    await place.elapse(30 * DAY_S - 100)
    await storage.append("c1", [user("again")])
    await place.elapse(200)
    await storage.sweep(without_contacts)
    assert texts(await storage.all_events("c1")) == ["first", "again"]


@pytest.mark.parametrize("place", ["sqlite", "postgresql"], indirect=True)
async def test_the_sql_sweep_reports_what_it_deleted(place: Place, storage: Storage) -> None:
    for sender in ("a", "b"):
        await storage.append(sender, [user("hi")])
    await place.elapse(31 * DAY_S)
    assert await storage.sweep(without_contacts) == (0, 2)


@pytest.mark.parametrize("place", ["redis"], indirect=True)
async def test_every_redis_key_of_a_conversation_expires_with_retention(place: Place) -> None:
    """Redis deletes by TTL: each key the storage writes carries one, renewed by every append
    (checked on the keys rather than by waiting a month)."""
    assert place.redis is not None
    storage = place.open(TrackerRetention(retention_s=3600, contacts_s=60))
    try:
        await storage.append("c1", [user("jane.doe@example.com"), session_start()])
        await storage.mask_contacts("c1", without_contacts)
        await storage.senders()
        keys = [k async for k in place.redis.scan_iter(match=place.config.key_prefix + "*")]
        assert keys
        for key in keys:
            assert 3590 <= await place.redis.ttl(key) <= 3600, key
            await place.redis.expire(key, 10)
        await storage.append("c1", [user("again")])
        for key in keys:
            assert await place.redis.ttl(key) >= 3590, key  # renewed by the append
    finally:
        await storage.close()


# --- concurrency ---------------------------------------------------------------------------
async def test_appends_to_different_conversations_run_concurrently(storage: Storage) -> None:
    async def talk(sender: str) -> None:
        for turn in range(10):
            batch = [session_start()] if turn == 5 else []
            await storage.append(sender, batch + [user(f"{sender}-{turn}")])

    await asyncio.gather(talk("a"), talk("b"))
    for sender in ("a", "b"):
        assert texts(await storage.all_events(sender))[:5] == [f"{sender}-{t}" for t in range(5)]
        assert texts(await storage.session_events(sender)) == ["session_started"] + [
            f"{sender}-{t}" for t in range(5, 10)]
        assert await storage.session_length(sender) == 6


async def test_two_first_appends_to_one_conversation_both_land(storage: Storage) -> None:
    # Two Rasa servers without a shared lock store (or a retry) may race on a new conversation.
    for round_ in range(5):
        sender = f"new-{round_}"
        await asyncio.gather(storage.append(sender, [user("one"), user("two")]),
                             storage.append(sender, [user("three")]))
        assert sorted(texts(await storage.all_events(sender))) == ["one", "three", "two"]
        assert await storage.session_length(sender) == 3


@pytest.mark.parametrize("place", ["redis"], indirect=True)
async def test_masking_a_conversation_that_is_gone_writes_nothing(place: Place,
                                                                  storage: Storage) -> None:
    # The sweep lists conversations, then masks them one by one: one may expire or be erased
    # in between, and a write then would leave a key without a TTL (or bring events back).
    assert isinstance(storage, RedisTrackerStorage)
    await storage.append("c1", [user("jane.doe@example.com")])
    await storage.delete("c1")
    assert await storage.mask_contacts("c1", without_contacts, up_to_index=1) == 0
    assert await place.dump() == ""


# --- bounded reads: the session from its checkpoint on -----------------------------------------
def numbered(n: int) -> list[Event]:
    return [user(f"m{i}") for i in range(n)]


async def test_without_a_checkpoint_the_window_is_the_whole_session(storage: Storage) -> None:
    await storage.append("c1", [user("old"), session_start(), *numbered(3)])
    window = await storage.session_window("c1")
    assert (window.start, window.prefix) == (0, [])
    assert texts(window.events) == ["session_started", "m0", "m1", "m2"]


async def test_an_unknown_conversation_has_an_empty_window(storage: Storage) -> None:
    window = await storage.session_window("nobody")
    assert (window.start, window.prefix, window.events) == (0, [], [])


async def test_the_window_starts_at_the_checkpoint(storage: Storage) -> None:
    await storage.append("c1", [session_start(), *numbered(10)])
    prefix = [{"event": "slot", "name": "order_id", "value": "482913", "timestamp": 1.0}]
    await storage.set_checkpoint("c1", 7, prefix)
    await storage.append("c1", [user("after")])
    window = await storage.session_window("c1")
    assert window.start == 7 and window.prefix == prefix
    assert texts(window.events) == ["m6", "m7", "m8", "m9", "after"]


async def test_a_checkpoint_of_an_earlier_session_is_ignored(storage: Storage) -> None:
    await storage.append("c1", [session_start(), *numbered(10)])
    await storage.set_checkpoint("c1", 5, [{"event": "pause", "timestamp": 1.0}])
    await storage.append("c1", [session_start(), user("new")])
    window = await storage.session_window("c1")
    assert (window.start, window.prefix) == (0, [])
    assert texts(window.events) == ["session_started", "new"]


async def test_masking_contacts_drops_the_checkpoint(storage: Storage) -> None:
    """A checkpoint holds slot values (an order's e-mail): once contacts are masked it would be
    the one place still holding them."""
    await storage.append("c1", [session_start(), user("jane.doe@example.com"), *numbered(5)])
    await storage.set_checkpoint("c1", 3, [{"event": "slot", "name": "order_contact",
                                            "value": "jane.doe@example.com", "timestamp": 1.0}])
    up_to = None if not isinstance(storage, RedisTrackerStorage) else 7
    kwargs = {"up_to_index": up_to} if up_to is not None else {"up_to_id": 10 ** 9}
    assert await storage.mask_contacts("c1", without_contacts, **kwargs) >= 1
    window = await storage.session_window("c1")
    assert (window.start, window.prefix) == (0, [])
    assert "jane.doe@example.com" not in repr(window)


async def test_deleting_a_conversation_deletes_its_checkpoint(storage: Storage,
                                                              place: Place) -> None:
    await storage.append("c1", [session_start(), *numbered(5)])
    await storage.set_checkpoint("c1", 2, [{"event": "slot", "name": "order_id",
                                            "value": "771234", "timestamp": 1.0}])
    await storage.delete("c1")
    assert "771234" not in await place.dump()
    await storage.append("c1", [user("again")])
    assert (await storage.session_window("c1")).prefix == []


async def test_a_checkpoint_for_an_erased_conversation_is_not_written(storage: Storage,
                                                                      place: Place) -> None:
    await storage.set_checkpoint("gone", 3, [{"event": "slot", "name": "order_id",
                                              "value": "665544", "timestamp": 1.0}])
    assert "665544" not in await place.dump()
