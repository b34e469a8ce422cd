"""Password reset: ask the identity service to e-mail a link. The reply never depends on whether
the account exists, and attempts are limited per conversation."""

from __future__ import annotations

import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import clients, replies
from actions.http_client import BackendError
from actions.identity_client import ResetRateLimited
from actions.steps import Step, StepKind, with_step

WINDOW_S = 3600.0


def recent_attempts(stamps: list[Any] | None, *, now: float) -> list[float]:
    return [float(s) for s in (stamps or []) if now - float(s) < WINDOW_S]


class ActionPasswordReset(Action):
    def name(self) -> str:
        return "action_password_reset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        cfg = clients.settings()
        login = tracker.get_slot("reset_login")
        now = time.time()
        attempts = recent_attempts(tracker.get_slot("reset_attempts"), now=now)
        events: list[EventType] = [SlotSet("reset_login", None)]
        if not login:
            dispatcher.utter_message(response="utter_ask_reset_login")
            return events
        if len(attempts) >= cfg.reset_limit_per_hour:
            dispatcher.utter_message(text=replies.RESET_RATE_LIMITED, buttons=replies.OFFER_BUTTONS)
            return events + [SlotSet("handoff_offered", True), SlotSet(
                "steps_tried", with_step(
                tracker, Step(StepKind.PASSWORD_RESET, "refused, too many attempts")))]
        attempts.append(now)
        events.append(SlotSet("reset_attempts", attempts))
        try:
            await clients.identity_client(cfg).request_password_reset(login=login)
        except ResetRateLimited:
            dispatcher.utter_message(text=replies.RESET_RATE_LIMITED, buttons=replies.OFFER_BUTTONS)
            outcome, offer = "refused by identity service rate limit", True
        except BackendError:
            dispatcher.utter_message(text=replies.IDENTITY_UNAVAILABLE,
                                     buttons=replies.OFFER_BUTTONS)
            outcome, offer = "identity service unavailable", True
        else:
            dispatcher.utter_message(text=replies.RESET_SENT)
            outcome, offer = "reset link requested", False
        return events + [SlotSet("handoff_offered", offer),
                         SlotSet("steps_tried", with_step(
                             tracker, Step(StepKind.PASSWORD_RESET, outcome)))]
