"""The project's one Rasa tracker store (endpoints.yml: type bot.rasa_tracker_store.
HelpdeskTrackerStore), over SQL or Redis storage (bot/tracker_storage.py).

What it adds to Rasa's own stores, and why one store instead of wrappers:
- privacy: every event is redacted before it is stored (card numbers, passwords and one-time
  codes removed; the whole answer to a secret question, such as a one-time code the deletion
  flow asks for, replaced). Contacts stay while the conversation needs them and are masked once
  its session is over or it has been idle for `contact_hours`; a conversation idle for
  `retention_days` is deleted. `delete` erases a conversation (the gateway's erasure uses the
  same storage);
- cost: a save appends only the new events, each one round trip (no read-merge-rewrite, no
  second retrieve for the event broker: new events are streamed to it from the same diff), and
  a read is bounded: Rasa gets the dialogue state (slots, active form, pause) as it was
  `window_events` events ago plus the events since, never the whole conversation. Rasa replays,
  featurises and searches what it is given on every turn, so an unbounded tracker made turn 200
  of a conversation 1.7 times as slow as turn 10. The policies look back a few turns (config.yml),
  the full history stays stored (`retrieve_full_tracker`, the tracker API), and the agents'
  transcript is the gateway's own, so nothing a person reads is shortened.

Rasa passes the endpoints.yml keys as keyword arguments (`url` arrives as `host`); values
substituted from the environment arrive as strings (blank: the default)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecutionRejected,
    ActiveLoop,
    ConversationPaused,
    SlotSet,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.log_redaction import install as install_log_redaction
from bot.redaction import redact_event, without_contacts
from bot.tracker_storage import Event, TrackerRetention, TrackerStorageConfig

log = logging.getLogger(__name__)

REQUESTED_SLOT = "requested_slot"
SWEEP_INTERVAL_S = 600.0
# 6 to 12 turns (a turn is about 5 events): more than any policy looks back (TED and memoisation:
# 5 turns; a rule or a form step is shorter still). Every event Rasa is handed costs it about
# 0.15 ms a turn on 2 cores (replay, featurisation, rule lookup): with 120 the turn at 200 was
# 1.24 times the turn at 10, with 60 it is flat (make bench, section curve).
WINDOW_EVENTS = 60
# Where in a tracker object the bounded read noted what it handed out (see save).
_WINDOW_ATTR = "_helpdesk_window"


def state_events(tracker: DialogueStateTracker) -> list[Event]:
    """Events that rebuild `tracker`'s dialogue state on an empty tracker: every slot not at its
    initial value, the active form or loop (and whether it was rejected: that lasts until the
    form runs again; its "interrupted" flag does not outlive the next action), the pause a
    handoff set."""
    events: list[Any] = [SlotSet(slot.name, slot.value) for slot in tracker.slots.values()
                         if slot.value != slot.initial_value]
    if tracker.active_loop_name:
        events.append(ActiveLoop(tracker.active_loop_name))
        if tracker.is_active_loop_rejected:
            events.append(ActionExecutionRejected(tracker.active_loop_name))
    if tracker.is_paused():
        events.append(ConversationPaused())
    return [e.as_dict() for e in events]


def window_start(events: Sequence[Event], earliest: int) -> int | None:
    """The first turn boundary (an action_listen) at or after `earliest`: a window that starts
    there begins with a whole turn."""
    for index in range(max(earliest, 0), len(events)):
        event = events[index]
        if event.get("event") == "action" and event.get("name") == ACTION_LISTEN_NAME:
            return index
    return None


def _number(value: Any, default: float) -> float:
    """An endpoints.yml number: substituted from the environment it is a string, maybe blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return float(value)


def _removed_from(said: dict[str, Any], kept: dict[str, Any], *, secret: bool) -> set[str]:
    """What redaction took out of a customer message and may come back in later events (a slot
    an entity filled, a bot message quoting it): a secret answer itself, the entity values it
    replaced, and the words it removed. Short values are left alone: "no" answering a secret
    question, or a card's "1111" group, must not blank every later "no" or "1111"."""
    removed = {str(said.get("text") or "").strip()} if secret else set()
    before = (said.get("parse_data") or {}).get("entities") or []
    after = (kept.get("parse_data") or {}).get("entities") or []
    for original, redacted in zip(before, after):
        value = original.get("value") if isinstance(original, dict) else None
        if isinstance(value, str) and isinstance(redacted, dict) and redacted.get("value") != value:
            removed.add(value)
    removed = {value for value in removed if len(value) >= 4}
    said_text, kept_text = said.get("text"), kept.get("text")
    if isinstance(said_text, str) and isinstance(kept_text, str):
        removed |= {w for w in set(said_text.split()) - set(kept_text.split()) if len(w) >= 6}
    return removed


class HelpdeskTrackerStore(TrackerStore):
    def __init__(self, domain: Domain | None = None, host: str | None = None,
                 event_broker: EventBroker | None = None, *, backend: str = "sql",
                 port: Any = 6379, db: Any = 0, password: str | None = None,
                 key_prefix: str = "helpdesk", retention_days: Any = 30,
                 contact_hours: Any = 24, secret_slots: Sequence[str] | str = (),
                 window_events: Any = WINDOW_EVENTS,
                 clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        # Rasa's server imports this module before it logs anything about conversations.
        install_log_redaction()
        if not host:
            raise ValueError("the tracker store needs a url (RASA_TRACKER_URL)")
        config = TrackerStorageConfig(kind=str(backend).strip().lower(), url=host,
                                      port=int(_number(port, 6379)), db=int(_number(db, 0)),
                                      password=password or None,
                                      key_prefix=str(key_prefix or "helpdesk"))
        if config.kind not in ("sql", "redis"):
            raise ValueError(f"tracker store backend must be sql or redis, not {backend!r}")
        self._retention = TrackerRetention(
            retention_s=int(_number(retention_days, 30) * 86400),
            contacts_s=int(_number(contact_hours, 24) * 3600))
        self._clock = clock
        self._storage = config.open(retention=self._retention, clock=clock)
        if isinstance(secret_slots, str):
            secret_slots = [s.strip() for s in secret_slots.split(",") if s.strip()]
        self._secret_slots = frozenset(secret_slots)
        self._window_events = max(int(_number(window_events, WINDOW_EVENTS)), 20)
        self._adopted = False
        self._adopting = asyncio.Lock()
        self._last_sweep: float | None = None
        self._sweeping: asyncio.Task[None] | None = None

    # --- Rasa's interface -------------------------------------------------------------------
    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._adopt_legacy_once()
        sender_id = tracker.sender_id
        stored = await self._storage.session_length(sender_id)
        # A tracker from `retrieve` holds a prefix and the session from `start` on; any other
        # (a new one from create_tracker) holds the session from its beginning.
        prefix_len, start = getattr(tracker, _WINDOW_ATTR, (0, 0))
        offset = prefix_len + stored - start
        events = [e.as_dict() for e in tracker.events]
        new = self.stored_forms(events, start=offset)
        if not new:
            return
        await self._storage.append(sender_id, new)
        new_session = any(e.get("event") == "session_started" for e in new)
        if stored and new_session:
            # The session before this one is over: its contacts are no longer needed.
            await self._storage.mask_contacts(sender_id, without_contacts)
        if self.event_broker is not None:
            published = [{"sender_id": sender_id, **event} for event in new]
            save_events = getattr(self.event_broker, "save_events", None)
            if save_events is not None:  # the project's broker: durable before the turn ends
                await save_events(published)
            else:
                for event in published:
                    self.event_broker.publish(event)
        if not new_session:
            await self._move_window(tracker, events[:offset] + new, prefix_len, start)
        self._maybe_sweep()

    async def _move_window(self, tracker: DialogueStateTracker, kept: list[Event],
                           prefix_len: int, start: int) -> None:
        """Once the session after the checkpoint is longer than the window, checkpoint the state
        half a window back. `kept` is the tracker's events as stored (redacted): the checkpoint
        holds nothing the events themselves do not."""
        if len(kept) - prefix_len <= self._window_events:
            return
        cut = window_start(kept, len(kept) - self._window_events // 2)
        if cut is None or cut <= prefix_len:
            return
        assert self.domain is not None
        state = DialogueStateTracker.from_dict(tracker.sender_id, kept[:cut], self.domain.slots)
        await self._storage.set_checkpoint(tracker.sender_id, start + cut - prefix_len,
                                           state_events(state))

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The current session, bounded: its state at the checkpoint and the events since."""
        await self._adopt_legacy_once()
        window = await self._storage.session_window(sender_id)
        tracker = self._tracker(sender_id, window.prefix + window.events)
        if tracker is not None:
            setattr(tracker, _WINDOW_ATTR, (len(window.prefix), window.start))
        return tracker

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        await self._adopt_legacy_once()
        return self._tracker(conversation_id, await self._storage.all_events(conversation_id))

    async def keys(self) -> Iterable[str]:
        return await self._storage.senders()

    # --- ours -------------------------------------------------------------------------------
    async def delete(self, sender_id: str) -> int:
        return await self._storage.delete(sender_id)

    async def sweep(self) -> tuple[int, int]:
        """Mask contacts of idle conversations, delete expired ones (saves start this in the
        background every SWEEP_INTERVAL_S); (events masked, conversations deleted)."""
        return await self._storage.sweep(without_contacts)

    async def wait_for_sweep(self) -> None:
        """Return once the background sweep a save started (if any) has finished."""
        if self._sweeping is not None:
            await asyncio.gather(self._sweeping, return_exceptions=True)

    async def close(self) -> None:
        """Let a running sweep finish, then close the storage."""
        await self.wait_for_sweep()
        await self._storage.close()

    def stored_forms(self, events: list[dict[str, Any]], *, start: int) -> list[dict[str, Any]]:
        """events[start:] as they may be stored: a customer message answering a secret slot
        (and that slot's value) is replaced entirely, everything else redacted; what was
        removed from a message is removed from the events after it too (the slot an entity
        filled, a bot message quoting it)."""
        requested: Any = None
        forget: set[str] = set()
        stored = []
        for index, event in enumerate(events):
            kind = event.get("event")
            secret = False
            if kind == "slot" and event.get("name") == REQUESTED_SLOT:
                requested = event.get("value")
            elif kind == "slot":
                secret = event.get("name") in self._secret_slots
            elif kind == "user":
                secret = requested in self._secret_slots
            elif kind == "active_loop" and not event.get("name"):
                requested = None
            if index < start:  # stored already (and redacted then)
                continue
            kept = redact_event(event, secret=secret, forget=frozenset(forget))
            if kind == "user":
                forget |= _removed_from(event, kept, secret=secret)
            stored.append(kept)
        return stored

    def _tracker(self, sender_id: str, events: list[dict[str, Any]]) -> DialogueStateTracker | None:
        if not events or self.domain is None:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def _adopt_legacy_once(self) -> None:
        if self._adopted:
            return
        # Every caller waits for the adoption: one that went ahead would miss the adopted
        # conversation, and its save would land before the conversation's older events.
        async with self._adopting:
            if self._adopted:
                return
            adopt = getattr(self._storage, "adopt_rasa_events", None)
            if adopt is not None:
                await adopt(lambda events: self.stored_forms(events, start=0), without_contacts)
            self._adopted = True

    def _maybe_sweep(self) -> None:
        now = self._clock()  # injected: tests move it; the first save sweeps at once
        recent = self._last_sweep is not None and now - self._last_sweep < SWEEP_INTERVAL_S
        if recent or (self._sweeping is not None and not self._sweeping.done()):
            return
        self._last_sweep = now
        self._sweeping = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        try:
            masked, deleted = await self.sweep()
            if masked or deleted:
                log.info("tracker store: masked contacts in %d event(s), deleted %d expired "
                         "conversation(s)", masked, deleted)
        except Exception:  # a background job: logged, and the next save tries again
            log.exception("tracker store sweep failed")
