"""Order status: look the order up once the form has the number and a verified contact."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import clients, replies
from actions.http_client import BackendError, BackendUnavailable
from actions.orders_client import OrderNotFound, TooManyAttempts, VerificationFailed
from actions.steps import (VERIFICATION_FAILED, Step, StepKind, failed_verification, steps_of,
                           with_step)

log = logging.getLogger(__name__)


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        order_id = tracker.get_slot("order_id")
        contact = tracker.get_slot("order_contact")
        # The contact is PII and the number only matters for this lookup: clear both so the next
        # question about another order starts fresh.
        clear = [SlotSet("order_id", None), SlotSet("order_contact", None)]
        if not order_id or not contact:
            dispatcher.utter_message(response="utter_ask_order_id")
            return clear
        offer = False
        try:
            order = await clients.orders_client(clients.settings()).lookup(
                order_id=order_id, contact=contact
            )
        except OrderNotFound:
            dispatcher.utter_message(text=replies.ORDER_NOT_FOUND.format(order_id=order_id),
                                     buttons=replies.OFFER_BUTTONS)
            outcome, offer = "not found", True
        except VerificationFailed:
            outcome, offer = VERIFICATION_FAILED, True
            if not failed_verification_before(tracker):
                dispatcher.utter_message(text=replies.VERIFICATION_FAILED,
                                         buttons=replies.OFFER_BUTTONS)
        except TooManyAttempts:
            dispatcher.utter_message(text=replies.TOO_MANY_ORDER_ATTEMPTS,
                                     buttons=replies.OFFER_BUTTONS)
            outcome, offer = "too many verification attempts", True
        except BackendUnavailable:
            dispatcher.utter_message(text=replies.ORDERS_UNAVAILABLE, buttons=replies.OFFER_BUTTONS)
            outcome, offer = "order system unavailable", True
        except BackendError as exc:
            log.error("order lookup rejected unexpectedly: %s", exc)
            dispatcher.utter_message(text=replies.ORDERS_UNAVAILABLE, buttons=replies.OFFER_BUTTONS)
            outcome, offer = "order system error", True
        else:
            dispatcher.utter_message(text=replies.order_status(order))
            outcome = f"found, status {order.status}"
        steps = with_step(tracker, Step(StepKind.ORDER_LOOKUP, outcome, f"#{order_id}"))
        if outcome == VERIFICATION_FAILED and failed_verification_before(tracker):
            # A second failed check in a row: a person can verify other ways, so hand over.
            dispatcher.utter_message(text=replies.VERIFICATION_FAILED_TWICE)
            return clear + [SlotSet("steps_tried", steps), SlotSet("handoff_offered", False),
                            FollowupAction("action_handoff_to_human")]
        return clear + [SlotSet("steps_tried", steps), SlotSet("handoff_offered", offer)]


def failed_verification_before(tracker: Tracker) -> bool:
    """Whether the bot's previous step was a failed ownership check."""
    steps = steps_of(tracker)
    return bool(steps) and failed_verification(steps[-1])


def failed_verification_twice(steps: list[Step]) -> bool:
    return len(steps) >= 2 and all(failed_verification(s) for s in steps[-2:])
