"""Fallbacks, offering a person, and stopping a flow."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.steps import Step, StepKind, with_step

FAILED_INTENTS = {"nlu_fallback", "out_of_scope"}
NOT_UNDERSTOOD_TWICE = Step(StepKind.NOT_UNDERSTOOD, "twice in a row")


def consecutive_failures(events: list[dict[str, Any]]) -> int:
    """How many of the latest customer messages in a row were not understood (or off-topic)."""
    count = 0
    for event in reversed(events):
        if event.get("event") == "session_started":
            break
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name not in FAILED_INTENTS:
            break
        count += 1
    return count


class ActionHandleFallback(Action):
    def name(self) -> str:
        return "action_handle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if consecutive_failures(tracker.events) >= 2:
            dispatcher.utter_message(text=replies.FALLBACK_OFFER, buttons=replies.OFFER_BUTTONS)
            return [SlotSet("handoff_offered", True),
                    SlotSet("steps_tried", with_step(tracker, NOT_UNDERSTOOD_TWICE))]
        dispatcher.utter_message(text=replies.FALLBACK_FIRST)
        return []


class ActionOfferHandoff(Action):
    def name(self) -> str:
        return "action_offer_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=replies.OFFER_PERSON, buttons=replies.OFFER_BUTTONS)
        return [SlotSet("handoff_offered", True)]


class ActionDeclineHandoff(Action):
    def name(self) -> str:
        return "action_decline_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_declined")
        return [SlotSet("handoff_offered", False)]


class ActionCancelFlow(Action):
    def name(self) -> str:
        return "action_cancel_flow"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response="utter_cancelled")
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("order_id", None),
            SlotSet("order_contact", None),
            SlotSet("reset_login", None),
            SlotSet("handoff_offered", False),
        ]
