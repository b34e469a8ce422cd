"""Slot validation for the order-status and password-reset forms."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.identifiers import looks_like_attempted_order_id, parse_contact, parse_login, parse_order_id


def _latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


class ValidateOrderStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_status_form"

    def validate_order_id(self, slot_value: Any, dispatcher: CollectingDispatcher,
                          tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        order_id = parse_order_id(str(slot_value or "")) or parse_order_id(_latest_text(tracker))
        if order_id:
            return {"order_id": order_id}
        if looks_like_attempted_order_id(str(slot_value or "")):
            dispatcher.utter_message(
                text="Hmm, that doesn't look like one of our order numbers: they have exactly "
                     "6 digits (for example 482913)."
            )
        else:
            dispatcher.utter_message(
                text="I need the order number to look it up. You'll find it in your order "
                     "confirmation email. If you don't have it, type \"agent\" and a person "
                     "can help."
            )
        return {"order_id": None}

    def validate_order_contact(self, slot_value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        contact = parse_contact(str(slot_value or "")) or parse_contact(_latest_text(tracker))
        if contact:
            return {"order_contact": contact}
        dispatcher.utter_message(
            text="That doesn't look like an email address or a phone number. Please send the "
                 "one used when the order was placed."
        )
        return {"order_contact": None}


class ValidatePasswordResetForm(FormValidationAction):
    def name(self) -> str:
        return "validate_password_reset_form"

    def validate_reset_login(self, slot_value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        login = parse_login(str(slot_value or "")) or parse_login(_latest_text(tracker))
        if login:
            return {"reset_login": login}
        dispatcher.utter_message(
            text="I need the email address or username of the account (just that, and never "
                 "your password)."
        )
        return {"reset_login": None}
