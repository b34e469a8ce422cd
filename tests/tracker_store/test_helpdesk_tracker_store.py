"""HelpdeskTrackerStore (bot/rasa_tracker_store.py) with the project's real Rasa domain and real
Rasa trackers and events, on SQLite, PostgreSQL and Redis; what is (not) stored is read from the
tables / keys directly."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_tracker_store import HelpdeskTrackerStore
from tests.tracker_store.conftest import FakeClock, Place, sql_place

ROOT = Path(__file__).resolve().parents[2]
HOUR_S = 3600
DAY_S = 24 * HOUR_S
T0 = 1_700_000_000.0
OpenStore = Callable[..., HelpdeskTrackerStore]


class RecordingBroker(EventBroker):
    """An event broker that keeps what it is given."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))  # slow: once per module


@pytest.fixture
async def open_store(place: Place, domain: Domain) -> AsyncIterator[OpenStore]:
    """Opens stores on the test's place with endpoints.yml's secret slot and the test clock;
    closes them (waiting for background sweeps) after the test."""
    opened: list[HelpdeskTrackerStore] = []

    def open_(**overrides: Any) -> HelpdeskTrackerStore:
        options: dict[str, Any] = {**place.store_kwargs, "secret_slots": "deletion_code",
                                   "clock": place.clock, **overrides}
        store = HelpdeskTrackerStore(domain=domain, **options)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
def store(open_store: OpenStore) -> HelpdeskTrackerStore:
    return open_store()


# --- conversations as Rasa makes them ------------------------------------------------------
def says(text: str, intent: str = "inform", **entities: str) -> UserUttered:
    found = [{"entity": name, "value": value, "start": text.find(value),
              "end": text.find(value) + len(value), "extractor": "RegexEntityExtractor"}
             for name, value in entities.items()]
    parsed = {"name": intent, "confidence": 0.93}
    return UserUttered(text, intent=parsed, entities=found, message_id="m-" + intent,
                       parse_data={"text": text, "intent": parsed, "entities": found,
                                   "intent_ranking": [parsed]},
                       metadata={"channel": "web", "message_id": "web:m1"})


def session_opening() -> list[Event]:
    return [ActionExecuted("action_session_start"), SessionStarted(),
            ActionExecuted("action_listen")]


def turn(text: str, reply: str = "Thanks!", *extra: Event, intent: str = "inform",
         **entities: str) -> list[Event]:
    return [says(text, intent, **entities), *extra, ActionExecuted("utter_thanks"),
            BotUttered(reply), ActionExecuted("action_listen")]


_ticks = itertools.count()


def stamped(events: list[Event]) -> list[Event]:
    """Timestamps one second apart from a fixed start: real ones are random digits, and a
    test that a 6-digit code is nowhere in the stored bytes must not trip over them."""
    for event in events:
        event.timestamp = T0 + next(_ticks)
    return events


def tracker_of(domain: Domain, sender_id: str, *events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender_id, stamped(list(events)), domain.slots)


def extend(tracker: DialogueStateTracker, events: list[Event]) -> None:
    """What Rasa does during a turn: the tracker it retrieved gets new events."""
    for event in stamped(events):
        tracker.update(event)


def as_dicts(tracker: DialogueStateTracker | None) -> list[dict[str, Any]]:
    assert tracker is not None
    return [e.as_dict() for e in tracker.events]


# --- save and retrieve ---------------------------------------------------------------------
async def test_save_then_retrieve_round_trips_the_current_session(
        store: HelpdeskTrackerStore, domain: Domain) -> None:
    tracker = tracker_of(domain, "c1", *session_opening(), *turn(
        "where is my order", "Which order?", intent="order_status"),
        ActiveLoop("order_status_form"), SlotSet("requested_slot", "order_id"),
        *turn("482913", "Got it", SlotSet("order_id", "482913"), order_id="482913"))
    await store.save(tracker)
    retrieved = await store.retrieve("c1")
    # as Rasa's own stores do: the session read starts at its session_started event
    assert as_dicts(retrieved) == as_dicts(tracker)[1:]
    assert retrieved is not None
    assert retrieved.current_slot_values() == tracker.current_slot_values()
    assert retrieved.active_loop_name == "order_status_form"
    assert retrieved.latest_message is not None
    assert retrieved.latest_message.intent["name"] == "inform"


async def test_an_unknown_conversation_is_none(store: HelpdeskTrackerStore) -> None:
    assert await store.retrieve("nobody") is None
    assert await store.retrieve_full_tracker("nobody") is None


async def test_a_second_save_appends_only_the_new_events(
        place: Place, store: HelpdeskTrackerStore, domain: Domain) -> None:
    await store.save(tracker_of(domain, "c1", *session_opening(), *turn("hello", intent="greet")))
    tracker = await store.retrieve("c1")
    assert tracker is not None
    first = len(tracker.events)
    extend(tracker, turn("thanks", intent="thank"))
    await store.save(tracker)
    await store.save(tracker)  # nothing new: nothing stored
    stored = await place.raw_events("c1")
    assert len(stored) == 1 + first + 4  # action_session_start is in no session's read
    assert [e["event"] for e in stored][1:] == [e["event"] for e in as_dicts(tracker)]
    assert await store.keys() == ["c1"]


async def test_retrieve_reads_the_latest_session_and_the_full_tracker_all(
        store: HelpdeskTrackerStore, domain: Domain) -> None:
    await store.save(tracker_of(domain, "c1", *session_opening(), *turn("first session")))
    tracker = await store.retrieve("c1")
    assert tracker is not None
    extend(tracker, [*session_opening(), *turn("second session")])
    await store.save(tracker)
    latest, full = await store.retrieve("c1"), await store.retrieve_full_tracker("c1")
    assert [e.get("text") for e in as_dicts(latest) if e["event"] == "user"] == [
        "second session"]
    assert as_dicts(latest)[0]["event"] == "session_started"
    assert [e.get("text") for e in as_dicts(full) if e["event"] == "user"] == [
        "first session", "second session"]


# --- what is never stored ------------------------------------------------------------------
@pytest.mark.parametrize("text, secret, entities", [
    ("my card is 4111 1111 1111 1111", "4111 1111 1111 1111", {}),
    ("my password is hunter2", "hunter2", {}),
    # NLU's order-number pattern takes the code for an order id, and the slot follows it
    ("code 481516", "481516", {"order_id": "481516"}),
], ids=["card", "password", "one-time-code"])
async def test_secrets_a_customer_types_are_not_stored(
        place: Place, store: HelpdeskTrackerStore, domain: Domain, text: str, secret: str,
        entities: dict[str, str]) -> None:
    filled = [SlotSet(name, value) for name, value in entities.items()]
    await store.save(tracker_of(domain, "c1", *session_opening(),
                                *turn("my email is jane.doe@example.com", "Thanks",
                                      SlotSet("order_contact", "jane.doe@example.com"),
                                      email="jane.doe@example.com"),
                                *turn(text, f"Noted: {secret}", *filled, intent="inform",
                                      **entities)))
    stored = await place.dump()
    assert secret not in stored
    assert secret.replace(" ", "") not in stored
    # the dialogue state survives: intents, the slots that are no secret, what was redacted
    tracker = await store.retrieve("c1")
    assert tracker is not None and tracker.latest_message is not None
    assert tracker.latest_message.intent["name"] == "inform"
    assert tracker.get_slot("order_contact") == "jane.doe@example.com"
    for name in entities:
        assert tracker.get_slot(name) == "[redacted]"  # filled, but not with the secret
    assert tracker.latest_message.text is not None
    assert tracker.latest_message.text != text and tracker.latest_message.text.startswith(
        text.split()[0])


async def test_the_answer_to_a_secret_slot_is_stored_as_redacted(
        place: Place, store: HelpdeskTrackerStore, domain: Domain) -> None:
    # "771903" alone matches no redaction pattern: only the question asked makes it a secret.
    await store.save(tracker_of(
        domain, "c1", *session_opening(), *turn("delete my account", "Sure",
                                               intent="delete_account"),
        ActiveLoop("account_deletion_form"), SlotSet("requested_slot", "deletion_code"),
        BotUttered("Please type the code we e-mailed you"), ActionExecuted("action_listen"),
        *turn("771903", "Thanks", SlotSet("deletion_code", "771903"),
              SlotSet("requested_slot", None), ActiveLoop(None), order_id="771903"),
        *turn("and 771903 was right?", "Yes")))
    assert "771903" not in await place.dump()
    events = await place.raw_events("c1")
    answer = next(e for e in events if e["event"] == "user" and e["text"] == "[redacted]")
    assert answer["parse_data"]["text"] == "[redacted]"
    assert answer["parse_data"]["entities"][0]["value"] == "[redacted]"
    assert answer["parse_data"]["intent"]["name"] == "inform"
    assert [e["value"] for e in events if e.get("name") == "deletion_code"] == ["[redacted]"]
    # after the form, what the customer says is stored again (with the code taken out)
    assert any(e["event"] == "user" and e["text"] == "and [redacted] was right?"
               for e in events)


async def test_a_secret_slot_cleared_stays_empty(
        place: Place, store: HelpdeskTrackerStore, domain: Domain) -> None:
    # "[redacted]" for None would read as a filled slot, and the form would skip the question.
    await store.save(tracker_of(domain, "c1", *session_opening(),
                                SlotSet("deletion_code", "771903"),
                                SlotSet("deletion_code", None)))
    values = [e["value"] for e in await place.raw_events("c1") if e.get("name") == "deletion_code"]
    assert values == ["[redacted]", None]


async def test_a_list_slot_is_redacted_too(
        place: Place, store: HelpdeskTrackerStore, domain: Domain) -> None:
    await store.save(tracker_of(domain, "c1", *session_opening(), SlotSet(
        "steps_tried", ["order lookup", "customer said card 4111 1111 1111 1111"])))
    assert "4111 1111 1111 1111" not in await place.dump()
    tracker = await store.retrieve("c1")
    assert tracker is not None
    assert tracker.get_slot("steps_tried") == ["order lookup",
                                               "customer said card [card ****1111]"]


# --- contacts ------------------------------------------------------------------------------
SENDER = "quokka-7"  # spelled so no random key prefix or other text can contain it


def contact_conversation(domain: Domain) -> DialogueStateTracker:
    return tracker_of(domain, SENDER, *session_opening(), *turn(
        "it's jane.doe@example.com or +1 555 010 0001", "Thanks jane.doe@example.com",
        SlotSet("order_contact", "jane.doe@example.com"), email="jane.doe@example.com"))


async def test_contacts_stay_while_the_session_is_current(
        place: Place, store: HelpdeskTrackerStore, domain: Domain) -> None:
    await store.save(contact_conversation(domain))
    stored = await place.dump()
    assert "jane.doe@example.com" in stored and "+1 555 010 0001" in stored
    tracker = await store.retrieve(SENDER)
    assert tracker is not None and tracker.get_slot("order_contact") == "jane.doe@example.com"


async def test_contacts_are_masked_once_a_new_session_starts(
        place: Place, store: HelpdeskTrackerStore, domain: Domain) -> None:
    await store.save(contact_conversation(domain))
    tracker = await store.retrieve(SENDER)
    assert tracker is not None
    extend(tracker, [*session_opening(), *turn("hi again", intent="greet")])
    await store.save(tracker)
    stored = await place.dump()
    assert "jane.doe@" not in stored and "010 0001" not in stored
    assert "j***@example.com" in stored and "[phone ***0001]" in stored
    assert "hi again" in stored


@pytest.mark.parametrize("idle_h, masked", [(23, False), (25, True)])
async def test_contacts_are_masked_after_contact_hours_idle(
        place: Place, store: HelpdeskTrackerStore, domain: Domain, idle_h: int,
        masked: bool) -> None:
    await store.save(contact_conversation(domain))
    await place.elapse(idle_h * HOUR_S)
    await store.sweep()
    stored = await place.dump()
    assert ("jane.doe@example.com" not in stored) is masked
    assert ("j***@example.com" in stored) is masked


async def test_saves_sweep_in_the_background(
        place: Place, store: HelpdeskTrackerStore, domain: Domain) -> None:
    await store.save(contact_conversation(domain))  # the first save sweeps at once
    await store.wait_for_sweep()
    assert "jane.doe@example.com" in await place.dump()
    await place.elapse(25 * HOUR_S)  # the sweep interval is over, and the contacts' time
    await store.save(tracker_of(domain, "c2", *session_opening()))
    await store.wait_for_sweep()
    assert "jane.doe@example.com" not in await place.dump()


@pytest.mark.parametrize("idle_days, kept", [(29, True), (31, False)])
async def test_conversations_idle_past_retention_are_gone_after_a_sweep(
        place: Place, open_store: OpenStore, domain: Domain, idle_days: int,
        kept: bool) -> None:
    store = open_store(retention_days="30", contact_hours="24")
    await store.save(contact_conversation(domain))
    await place.elapse(idle_days * DAY_S)
    await store.sweep()
    assert (await store.retrieve(SENDER) is not None) is kept
    assert (SENDER in await place.dump()) is kept


# --- delete --------------------------------------------------------------------------------
async def test_delete_removes_everything(
        place: Place, store: HelpdeskTrackerStore, domain: Domain) -> None:
    await store.save(contact_conversation(domain))
    tracker = await store.retrieve(SENDER)
    assert tracker is not None
    extend(tracker, [*session_opening(), *turn("second session")])
    await store.save(tracker)
    await store.save(tracker_of(domain, "other", *session_opening()))
    assert await store.delete(SENDER) > 0
    assert await store.retrieve(SENDER) is None
    assert await store.retrieve_full_tracker(SENDER) is None
    assert await store.keys() == ["other"]
    stored = await place.dump()
    for trace in (SENDER, "j***@", "jane.doe", "second session"):
        assert trace not in stored


# --- event broker --------------------------------------------------------------------------
async def test_the_event_broker_gets_each_new_redacted_event_once(
        place: Place, open_store: OpenStore, domain: Domain) -> None:
    broker = RecordingBroker()
    store = open_store(event_broker=broker)
    await store.save(tracker_of(domain, "c1", *session_opening(),
                                *turn("card 4111 1111 1111 1111")))
    assert broker.published == [{"sender_id": "c1", **e} for e in await place.raw_events("c1")]
    tracker = await store.retrieve("c1")
    assert tracker is not None
    extend(tracker, turn("thanks", intent="thank"))
    await store.save(tracker)
    await store.save(tracker)  # nothing new: nothing published
    stored = await place.raw_events("c1")
    assert broker.published == [{"sender_id": "c1", **e} for e in stored]
    assert "4111 1111 1111 1111" not in repr(broker.published)


# --- Rasa's legacy "events" table ----------------------------------------------------------
@dataclass
class Legacy:
    place: Place
    store: HelpdeskTrackerStore
    last_event_at: float  # of the legacy conversations, by their events' timestamps


@pytest.fixture
async def legacy(tmp_path: Path, domain: Domain) -> AsyncIterator[Legacy]:
    """A SQLite file as Rasa's own SQLTrackerStore left it (raw words of two conversations,
    the first with a session that is over), and our store opened on the same URL 20 days
    after its last event."""
    path = tmp_path / "rasa.db"
    rasa_store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
    first = tracker_of(
        domain, "legacy-1", *session_opening(), *turn("mail jane.doe@example.com"),
        *session_opening(), *turn("my card is 4111 1111 1111 1111"),
        SlotSet("requested_slot", "deletion_code"), ActionExecuted("action_listen"),
        *turn("771903", "ok", SlotSet("deletion_code", "771903")))
    second = tracker_of(domain, "legacy-2", *session_opening(), *turn("hello"))
    for tracker in (first, second):
        await rasa_store.save(tracker)
    rasa_store.engine.dispose()
    last = max(e.timestamp for t in (first, second) for e in t.events)
    url = f"sqlite:///{path}"
    place = sql_place("sqlite", url, FakeClock(now=last + 20 * DAY_S))
    store = HelpdeskTrackerStore(domain=domain, backend="sql", host=url,
                                 secret_slots="deletion_code", clock=place.clock)
    yield Legacy(place, store, last)
    await store.close()


def legacy_table_exists(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        return "events" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


async def test_rasas_events_table_is_adopted_redacted_and_dropped(legacy: Legacy) -> None:
    full = await legacy.store.retrieve_full_tracker("legacy-1")
    texts = [e["text"] for e in as_dicts(full) if e["event"] == "user"]
    assert texts == ["mail j***@example.com",  # a session that was over: contacts masked
                     "my card is [card ****1111]", "[redacted]"]
    latest = await legacy.store.retrieve("legacy-1")
    assert [e["text"] for e in as_dicts(latest) if e["event"] == "user"] == [
        "my card is [card ****1111]", "[redacted]"]
    assert sorted(await legacy.store.keys()) == ["legacy-1", "legacy-2"]
    assert not legacy_table_exists(legacy.place.sql_url or "")
    stored = await legacy.place.dump()
    for secret in ("jane.doe", "4111 1111 1111 1111", "771903"):
        assert secret not in stored


async def test_callers_racing_the_adoption_wait_for_it(legacy: Legacy) -> None:
    first, second = await asyncio.gather(legacy.store.retrieve("legacy-2"),
                                         legacy.store.retrieve("legacy-2"))
    assert first is not None and second is not None
    assert as_dicts(first) == as_dicts(second)


async def test_an_adopted_conversation_keeps_its_age(legacy: Legacy) -> None:
    # Adopted 20 days after its last event: 11 days later it is past 30 days' retention.
    assert await legacy.store.retrieve("legacy-2") is not None
    await legacy.place.elapse(11 * DAY_S)
    await legacy.store.sweep()
    assert await legacy.store.retrieve("legacy-2") is None
