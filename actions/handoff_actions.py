"""Live handoff: build the context package, open a case in the gateway's human inbox, and pause
the conversation's tracker (a person has it now)."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import clients, replies
from actions.conversation_actions import NOT_UNDERSTOOD_TWICE
from bot.handoff_package import build_package
from actions.order_actions import failed_verification_twice
from actions.http_client import BackendError
from actions.steps import Step, StepKind, steps_of, with_step
from actions.tracker_info import channel_and_customer

log = logging.getLogger(__name__)


def escalation_of(tracker: Tracker) -> dict[str, Any] | None:
    """The trigger the gateway recorded when it escalated by itself (escalation.yml): it comes as
    the `handoff_trigger` entity of the handoff intent the gateway triggered."""
    for entity in tracker.latest_message.get("entities") or []:
        value = entity.get("value")
        if entity.get("entity") == "handoff_trigger" and isinstance(value, dict) and value.get("kind"):
            return value
    return None


def trigger_of(tracker: Tracker) -> tuple[str, str]:
    escalated = escalation_of(tracker)
    if escalated is not None:
        return str(escalated["kind"]), str(escalated.get("detail") or escalated["kind"])
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    steps = steps_of(tracker)
    if failed_verification_twice(steps):
        return ("repeated_failure",
                f"order verification failed twice in a row ({steps[-1].describe()})")
    if intent == "affirm" and tracker.get_slot("handoff_offered"):
        if steps and steps[-1] == NOT_UNDERSTOOD_TWICE:
            return "repeated_failure", "customer accepted a person after two messages in a row were not understood"
        after = f" after: {steps[-1].describe()}" if steps else ""
        return "offer_accepted", f"customer accepted the offer of a person{after}"
    active = (tracker.active_loop or {}).get("name")
    where = f" during {active}" if active else ""
    return "customer_request", f"customer asked for a person{where}"


class ActionHandoffToHuman(Action):
    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        channel, customer = channel_and_customer(tracker)
        kind, detail = trigger_of(tracker)
        package = build_package(
            conversation_id=tracker.sender_id,
            channel=channel,
            customer_id=customer,
            events=list(tracker.events),
            slots=dict(tracker.slots),
            steps_tried=[step.describe() for step in steps_of(tracker)],
            trigger_kind=kind,
            trigger_detail=detail,
            # On a conversation's first message Rasa starts the session after the gateway recorded
            # the message, so it is not in the events; the gateway sends it with the trigger.
            last_customer_text=(escalation_of(tracker) or {}).get("message"),
        )
        events: list[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None),
                                   SlotSet("handoff_offered", False)]
        try:
            receipt = await clients.handoff_client(clients.settings()).open_case(package)
        except BackendError as exc:
            log.error("handoff to the inbox failed: %s", exc)
            dispatcher.utter_message(text=replies.HANDOFF_FAILED)
            return events + [SlotSet("steps_tried", with_step(
                tracker, Step(StepKind.HANDOFF, "inbox unreachable")))]
        dispatcher.utter_message(text=receipt.customer_message)
        # The action pauses the tracker itself: the gateway must not call back into Rasa for
        # this conversation while this turn holds its lock (it would wait for the turn to end).
        return events + [SlotSet("handoff_case_id", receipt.case_id),
                         SlotSet("steps_tried", with_step(
                             tracker, Step(StepKind.HANDOFF, "", f"case {receipt.case_id}"))),
                         ConversationPaused()]
