"""Account deletion at the customer's request: explain what goes, ask for the account's e-mail,
have the identity service e-mail a one-time code, check the code (which deletes the account),
then tell the gateway to erase the conversation.

Two gateway directives frame the code (bot/directives.py): EXPECT_SECRET right after the bot
asks for it, so the gateway keeps the answer out of its transcript and inboxes, and
ERASE_CONVERSATION after the deletion, so the gateway deletes the conversation (its state,
transcript, cases and Rasa's tracker) once the turn is over. The slot deletion_code never holds
the code after it was checked, and the tracker store keeps only "[redacted]" for it
(endpoints.yml secret_slots).

The service answers the same whether or not the account exists, and so does the bot. The bot
never asks for a password."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import clients, replies
from actions.http_client import BackendError
from actions.identity_client import DeletionCodeRejected, DeletionRateLimited, deletion_code_in
from actions.steps import Step, StepKind, with_step
from bot.directives import Directive, payload
from bot.identifiers import parse_email

log = logging.getLogger(__name__)

# A mistyped code gets one retry; a second wrong code means a person is the better way.
MAX_CODE_TRIES = 2
# What deletion_code holds once the code was accepted: the form needs the slot filled, and the
# code itself has no business staying anywhere.
CODE_ACCEPTED = "accepted"

RESET_SLOTS = {"deletion_login": None, "deletion_code": None, "deletion_tries": 0,
               "account_deleted": False}


def _resets() -> list[EventType]:
    return [SlotSet(name, value) for name, value in RESET_SLOTS.items()]


def _latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def _stop_with_offer(tracker: Tracker, dispatcher: CollectingDispatcher, text: str,
                     step: str) -> dict[str, Any]:
    """End the form (requested_slot None) and offer a person."""
    dispatcher.utter_message(text=text, buttons=replies.OFFER_BUTTONS)
    return {"requested_slot": None, "deletion_code": None, "handoff_offered": True,
            "steps_tried": with_step(tracker, Step(StepKind.ACCOUNT_DELETION, step))}


class ActionStartAccountDeletion(Action):
    def name(self) -> str:
        return "action_start_account_deletion"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=replies.DELETION_EXPLAINED)
        # A flow stopped earlier (cancel, a person) may have left its slots behind: start clean.
        return _resets()


class ValidateAccountDeletionForm(FormValidationAction):
    def name(self) -> str:
        return "validate_account_deletion_form"

    async def validate_deletion_login(self, slot_value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        login = parse_email(str(slot_value or "")) or parse_email(_latest_text(tracker))
        if login is None:
            dispatcher.utter_message(text=replies.DELETION_LOGIN_INVALID)
            return {"deletion_login": None}
        try:
            await clients.identity_client(clients.settings()).request_account_deletion(
                login=login)
        except DeletionRateLimited:
            # The codes already sent still work for 10 minutes: let the customer use one.
            dispatcher.utter_message(text=replies.DELETION_RATE_LIMITED)
            return {"deletion_login": login, "deletion_tries": 0}
        except BackendError:
            return {"deletion_login": None, **_stop_with_offer(
                tracker, dispatcher, replies.IDENTITY_UNAVAILABLE,
                "identity service unavailable")}
        dispatcher.utter_message(text=replies.DELETION_CODE_SENT)
        return {"deletion_login": login, "deletion_tries": 0}

    async def validate_deletion_code(self, slot_value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        code = deletion_code_in(str(slot_value or ""))
        if code is None:
            # Not counted as a try: nothing was checked.
            dispatcher.utter_message(text=replies.DELETION_CODE_SHAPE)
            return {"deletion_code": None}
        login = str(tracker.get_slot("deletion_login") or "")
        try:
            await clients.identity_client(clients.settings()).confirm_account_deletion(
                login=login, code=code)
        except DeletionCodeRejected:
            tries = int(tracker.get_slot("deletion_tries") or 0) + 1
            if tries < MAX_CODE_TRIES:
                dispatcher.utter_message(text=replies.DELETION_CODE_WRONG)
                return {"deletion_code": None, "deletion_tries": tries}
            return {"deletion_tries": tries, **_stop_with_offer(
                tracker, dispatcher, replies.DELETION_CODE_FAILED, "code refused twice")}
        except BackendError:
            return _stop_with_offer(tracker, dispatcher, replies.IDENTITY_UNAVAILABLE,
                                    "identity service unavailable")
        log.info("account deleted at the customer's request")
        return {"deletion_code": CODE_ACCEPTED, "account_deleted": True}


class ActionAskDeletionCode(Action):
    """How the form asks for deletion_code: the question, then EXPECT_SECRET, so the gateway
    records the answer as "[one-time code]" and shows it to nobody."""

    def name(self) -> str:
        return "action_ask_deletion_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=replies.DELETION_ASK_CODE)
        dispatcher.utter_message(json_message=payload(Directive.EXPECT_SECRET))
        return []


class ActionFinishAccountDeletion(Action):
    """After the form: when the account was deleted, say what went and have the gateway erase
    the conversation. Otherwise the form already said why it stopped and offered a person."""

    def name(self) -> str:
        return "action_finish_account_deletion"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot("account_deleted"):
            dispatcher.utter_message(text=replies.DELETION_DONE)
            dispatcher.utter_message(json_message=payload(Directive.ERASE_CONVERSATION))
            return _resets() + [SlotSet("steps_tried", with_step(
                tracker, Step(StepKind.ACCOUNT_DELETION, "account deleted, conversation erased")))]
        return _resets()
