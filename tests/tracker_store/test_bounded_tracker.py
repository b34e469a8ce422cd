"""A turn costs the same at turn 400 as at turn 10: HelpdeskTrackerStore hands Rasa the dialogue
state at a checkpoint plus the events since, never the whole conversation, and that bounded
tracker is indistinguishable to the dialogue (slots, active form, pause) from the full one, while
every event stays stored exactly once. Real Rasa trackers and the project's domain, on SQLite,
PostgreSQL and Redis."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    LoopInterrupted,
    Restarted,
    SlotSet,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_tracker_store import HelpdeskTrackerStore
from tests.tracker_store.conftest import Place
from tests.tracker_store.test_helpdesk_tracker_store import (  # noqa: F401 (fixtures)
    OpenStore,
    domain,
    open_store,
    says,
    session_opening,
    stamped,
)

WINDOW = 40


def state_of(tracker: DialogueStateTracker | None, domain: Domain) -> dict[str, Any]:
    """What the dialogue sees: slots, the whole active-loop record (rejected, interrupted), the
    pause, and the states the policies featurise for their look-back (5 turns)."""
    assert tracker is not None
    loop = tracker.active_loop
    return {"slots": {name: slot.value for name, slot in tracker.slots.items()},
            "active_loop": None if loop is None else (loop.name, loop.is_interrupted,
                                                      loop.rejected),
            "paused": tracker.is_paused(),
            "recent_states": tracker.past_states(domain)[-6:]}


async def run_turn(store: HelpdeskTrackerStore, domain: Domain, sender: str,
                   extra: list[Event], n: int) -> DialogueStateTracker:
    """One turn the way Rasa runs it: retrieve (or create), append the turn's events, save."""
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = DialogueStateTracker.from_events(sender, stamped(session_opening()),
                                                   domain.slots)
    for event in stamped([says(f"message {n}"), *extra, ActionExecuted("utter_ok"),
                          BotUttered(f"reply {n}"), ActionExecuted("action_listen")]):
        tracker.update(event, domain)
    await store.save(tracker)
    return tracker


@pytest.fixture
def store(open_store: OpenStore) -> HelpdeskTrackerStore:
    return open_store(window_events=WINDOW)


async def test_a_long_conversation_is_read_back_bounded(store: HelpdeskTrackerStore,
                                                        domain: Domain) -> None:
    for n in range(200):
        await run_turn(store, domain, "c1", [], n)
    bounded = await store.retrieve("c1")
    assert bounded is not None and len(bounded.events) <= WINDOW + 10
    assert len((await store.retrieve_full_tracker("c1")).events) == 3 + 200 * 4  # the session opening, then 4 events a turn


async def test_every_event_is_stored_once_and_in_order(store: HelpdeskTrackerStore,
                                                       domain: Domain) -> None:
    for n in range(60):
        await run_turn(store, domain, "c1", [], n)
    full = await store.retrieve_full_tracker("c1")
    said = [e.text for e in full.events if e.type_name == "user"]
    assert said == [f"message {n}" for n in range(60)]


async def test_the_window_starts_at_a_turn_boundary(store: HelpdeskTrackerStore,
                                                    domain: Domain) -> None:
    for n in range(60):
        await run_turn(store, domain, "c1", [SlotSet("order_id", "482913")] if n == 0 else [], n)
    events = (await store.retrieve("c1")).events
    first_real = next(i for i, e in enumerate(events) if not isinstance(e, SlotSet))
    assert isinstance(events[first_real], ActionExecuted)
    assert events[first_real].action_name == "action_listen"


async def test_state_set_long_ago_survives_the_window(store: HelpdeskTrackerStore,
                                                      domain: Domain) -> None:
    await run_turn(store, domain, "c1", [SlotSet("order_id", "482913"),
                                         SlotSet("steps_tried", [{"kind": "order_lookup"}]),
                                         ActiveLoop("order_status_form"),
                                         SlotSet("requested_slot", "order_contact")], 0)
    await run_turn(store, domain, "c1", [ConversationPaused()], 1)
    for n in range(2, 100):
        await run_turn(store, domain, "c1", [], n)
    assert state_of(await store.retrieve("c1"), domain) == state_of(
        await store.retrieve_full_tracker("c1"), domain)
    bounded = await store.retrieve("c1")
    assert bounded.get_slot("order_id") == "482913"
    assert bounded.active_loop_name == "order_status_form"
    assert bounded.is_paused()


async def test_a_secret_answer_stays_redacted_in_the_checkpoint(store: HelpdeskTrackerStore,
                                                                 domain: Domain,
                                                                 place: Place) -> None:
    await run_turn(store, domain, "c1", [SlotSet("requested_slot", "deletion_code"),
                                         ActiveLoop("account_deletion_form")], 0)
    await run_turn(store, domain, "c1", [SlotSet("deletion_code", "918273")], 1)
    for n in range(2, 60):
        await run_turn(store, domain, "c1", [], n)
    assert "918273" not in await place.dump()


# Operations a turn can carry, as a trainer's stories and the actions produce them.
OPERATIONS: list[list[Event]] = [
    [],
    [SlotSet("order_id", "482913")],
    [SlotSet("order_id", "771205")],
    [SlotSet("order_id", None)],
    [SlotSet("handoff_offered", True)],
    [SlotSet("handoff_offered", False)],
    [SlotSet("deletion_tries", 2.0)],
    [SlotSet("steps_tried", [{"kind": "faq", "detail": "shipping"}])],
    [ActiveLoop("order_status_form"), SlotSet("requested_slot", "order_id")],
    [ActiveLoop(None), SlotSet("requested_slot", None)],
    [ConversationPaused()],
    [ConversationResumed()],
    [ActiveLoop("order_status_form"), ActionExecutionRejected("order_status_form")],
    [ActionExecutionRejected("order_status_form")],
    [LoopInterrupted(True)],
    [Restarted()],
]
_senders = itertools.count()


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(st.sampled_from(range(len(OPERATIONS))), min_size=1, max_size=60))
async def test_the_bounded_tracker_has_the_full_trackers_state(
        script: list[int], store: HelpdeskTrackerStore, domain: Domain) -> None:
    sender = f"p{next(_senders)}-{uuid.uuid4().hex[:6]}"
    for n, op in enumerate(script):
        await run_turn(store, domain, sender, list(OPERATIONS[op]), n)
        bounded, full = await store.retrieve(sender), await store.retrieve_full_tracker(sender)
        assert state_of(bounded, domain) == state_of(full, domain), f"after turn {n}"
