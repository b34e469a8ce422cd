"""The account deletion flow's actions against a fake identity service: the same answers whether
or not the account exists, one retry for a wrong code then a person, the gateway directives
around the code, and never the code (or a password) anywhere it does not belong."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.deletion_actions import (
    CODE_ACCEPTED,
    ActionAskDeletionCode,
    ActionFinishAccountDeletion,
    ActionStartAccountDeletion,
    ValidateAccountDeletionForm,
)
from actions.steps import Step, StepKind
from bot.directives import Directive, payload
from tests.actions.conftest import said, slot_events, tracker
from tests.fakes.backend import FakeBackend

JANE = "jane.doe@example.com"
REQUESTS = "/v1/account-deletions"
CONFIRMATIONS = "/v1/account-deletions/confirm"
DELETION_REPLIES = {name: getattr(replies, name) for name in dir(replies)
                    if name.startswith("DELETION_")}


@cache
def domain() -> dict[str, Any]:
    """The real domain, as Rasa sends it to the action server (the form's required slots)."""
    loaded: dict[str, Any] = yaml.safe_load(
        (Path(__file__).parents[2] / "domain.yml").read_text(encoding="utf-8"))
    return loaded


async def validate(slot: str, value: Any, *, slots: dict[str, Any] | None = None,
                   ) -> tuple[CollectingDispatcher, dict[str, Any]]:
    """Run the form's validation action for one slot the customer just filled."""
    all_slots = {"deletion_login": None, "deletion_code": None, "deletion_tries": 0,
                 **(slots or {}), slot: value}
    events = [{"event": "user", "text": str(value)},
              {"event": "slot", "name": slot, "value": value}]
    dispatcher = CollectingDispatcher()
    result = await ValidateAccountDeletionForm().run(
        dispatcher,
        tracker(slots=all_slots, events=events, latest={"text": str(value), "intent": {}},
                active_loop={"name": "account_deletion_form"}),
        domain())
    return dispatcher, slot_events(result)


async def code_given(code: str, *, tries: int = 0) -> tuple[CollectingDispatcher, dict[str, Any]]:
    return await validate("deletion_code", code,
                          slots={"deletion_login": JANE, "deletion_tries": tries})


async def requested(backend: FakeBackend) -> None:
    """Jane asked for a code (the fake e-mails backend.deletion_code)."""
    await validate("deletion_login", JANE)


# --- starting ---------------------------------------------------------------------------------


async def test_the_start_says_what_will_be_deleted_and_that_it_is_final() -> None:
    dispatcher = CollectingDispatcher()
    await ActionStartAccountDeletion().run(dispatcher, tracker(), domain())

    (text,) = said(dispatcher)
    for what in ("account", "chat history", "support cases", "can't be undone", "code"):
        assert what in text


async def test_the_start_clears_what_an_earlier_attempt_left() -> None:
    events = await ActionStartAccountDeletion().run(
        CollectingDispatcher(),
        tracker(slots={"deletion_login": JANE, "deletion_tries": 1, "account_deleted": True}),
        domain())

    assert slot_events(events) == {"deletion_login": None, "deletion_code": None,
                                   "deletion_tries": 0, "account_deleted": False}


# --- the e-mail address -----------------------------------------------------------------------


@pytest.mark.parametrize("login", [JANE, "nobody@example.com"], ids=["known", "unknown"])
async def test_known_and_unknown_addresses_get_the_same_reply(backend: FakeBackend,
                                                               login: str) -> None:
    dispatcher, slots = await validate("deletion_login", login)

    assert said(dispatcher) == [replies.DELETION_CODE_SENT]
    assert slots["deletion_login"] == login


@pytest.mark.parametrize("typed", [JANE, "it's Jane.Doe@Example.com thanks"])
async def test_a_code_is_requested_for_the_address(backend: FakeBackend, typed: str) -> None:
    await validate("deletion_login", typed)

    assert backend.calls_to(REQUESTS) == [{"login": JANE}]
    assert backend.codes_sent == {JANE: backend.deletion_code}


@pytest.mark.parametrize("typed", ["janedoe", "hello", "my password is hunter2", ""])
async def test_anything_but_an_email_address_is_asked_again(backend: FakeBackend,
                                                            typed: str) -> None:
    dispatcher, slots = await validate("deletion_login", typed)

    assert said(dispatcher) == [replies.DELETION_LOGIN_INVALID]
    assert slots["deletion_login"] is None
    assert backend.calls == []


async def test_the_reply_never_echoes_the_address(backend: FakeBackend) -> None:
    dispatcher, _ = await validate("deletion_login", JANE)

    assert "jane" not in " ".join(said(dispatcher)).lower()


async def test_a_rate_limited_request_lets_the_customer_use_a_code_sent_earlier(
        backend: FakeBackend) -> None:
    backend.deletion_request_status = 429

    dispatcher, slots = await validate("deletion_login", JANE)

    assert said(dispatcher) == [replies.DELETION_RATE_LIMITED]
    assert slots["deletion_login"] == JANE
    assert "requested_slot" not in slots  # the form goes on to ask for the code


async def test_an_identity_outage_stops_the_form_and_offers_a_person(
        backend: FakeBackend) -> None:
    backend.fail_statuses = [500, 500, 500]

    dispatcher, slots = await validate("deletion_login", JANE)

    assert said(dispatcher) == [replies.IDENTITY_UNAVAILABLE]
    assert dispatcher.messages[0]["buttons"] == replies.OFFER_BUTTONS
    assert slots["requested_slot"] is None
    assert slots["handoff_offered"] is True


async def test_a_failed_request_is_not_sent_again(backend: FakeBackend) -> None:
    # Not idempotent: a 5xx may have sent the e-mail already.
    backend.fail_statuses = [500, 500, 500]

    await validate("deletion_login", JANE)

    assert len(backend.calls_to(REQUESTS)) == 1


# --- asking for the code ----------------------------------------------------------------------


async def test_asking_for_the_code_is_followed_by_the_expect_secret_directive() -> None:
    dispatcher = CollectingDispatcher()

    await ActionAskDeletionCode().run(dispatcher, tracker(), domain())

    assert said(dispatcher)[0] == replies.DELETION_ASK_CODE
    assert dispatcher.messages[-1]["custom"] == payload(Directive.EXPECT_SECRET)
    assert len(dispatcher.messages) == 2


def test_the_form_asks_for_the_code_with_that_action() -> None:
    # Rasa's form asks for a slot with action_ask_<slot> when the domain lists it.
    assert ActionAskDeletionCode().name() == "action_ask_deletion_code"
    assert "action_ask_deletion_code" in domain()["actions"]
    assert domain()["forms"]["account_deletion_form"]["required_slots"] == [
        "deletion_login", "deletion_code"]


# --- the code ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["246810", " 246 810 ", "246-810", "the code is 246810"])
async def test_the_right_code_deletes_the_account(backend: FakeBackend, typed: str) -> None:
    await requested(backend)

    dispatcher, slots = await code_given(typed)

    assert backend.deleted == [JANE]
    assert backend.calls_to(CONFIRMATIONS) == [{"login": JANE, "code": "246810"}]
    assert slots["account_deleted"] is True
    assert said(dispatcher) == []  # the finishing action tells the customer


async def test_the_slot_keeps_a_marker_not_the_code(backend: FakeBackend) -> None:
    await requested(backend)

    _, slots = await code_given("246810")

    assert slots["deletion_code"] == CODE_ACCEPTED


async def test_a_wrong_code_can_be_tried_once_more(backend: FakeBackend) -> None:
    await requested(backend)

    dispatcher, slots = await code_given("135791")

    assert said(dispatcher) == [replies.DELETION_CODE_WRONG]
    assert slots == {"deletion_code": None, "deletion_tries": 1}
    assert backend.deleted == []


async def test_a_second_wrong_code_stops_and_offers_a_person(backend: FakeBackend) -> None:
    await requested(backend)

    dispatcher, slots = await code_given("135791", tries=1)

    assert said(dispatcher) == [replies.DELETION_CODE_FAILED]
    assert dispatcher.messages[0]["buttons"] == replies.OFFER_BUTTONS
    assert slots["requested_slot"] is None
    assert slots["handoff_offered"] is True
    assert slots["deletion_code"] is None
    assert Step.from_slot(slots["steps_tried"][-1]) == Step(StepKind.ACCOUNT_DELETION,
                                                            "code refused twice")


async def test_a_second_try_with_the_right_code_still_deletes(backend: FakeBackend) -> None:
    await requested(backend)

    _, slots = await code_given("246810", tries=1)

    assert slots["account_deleted"] is True


@pytest.mark.parametrize("typed", ["what code?", "12345", "1234567", "123456 or 654321"])
async def test_what_is_not_a_code_is_asked_again_without_a_try(backend: FakeBackend,
                                                               typed: str) -> None:
    await requested(backend)

    dispatcher, slots = await code_given(typed)

    assert said(dispatcher) == [replies.DELETION_CODE_SHAPE]
    assert slots == {"deletion_code": None}
    assert backend.calls_to(CONFIRMATIONS) == []


async def test_an_outage_while_checking_stops_and_offers_a_person(backend: FakeBackend) -> None:
    await requested(backend)
    backend.fail_statuses = [503, 503, 503]

    dispatcher, slots = await code_given("246810")

    assert said(dispatcher) == [replies.IDENTITY_UNAVAILABLE]
    assert slots["requested_slot"] is None and slots["handoff_offered"] is True
    # Not repeated: a lost answer to a deletion that happened would come back as a refusal.
    assert len(backend.calls_to(CONFIRMATIONS)) == 1


@pytest.mark.parametrize(("code", "tries"), [("246810", 0), ("135791", 0), ("135791", 1)],
                         ids=["right", "wrong", "wrong-twice"])
async def test_the_code_is_in_no_reply_and_no_slot(backend: FakeBackend, code: str,
                                                   tries: int) -> None:
    await requested(backend)

    dispatcher, slots = await code_given(code, tries=tries)

    assert code not in repr(dispatcher.messages)
    assert code not in repr(slots)


# --- finishing --------------------------------------------------------------------------------


async def test_after_the_deletion_the_bot_says_what_went_and_erases_the_conversation() -> None:
    dispatcher = CollectingDispatcher()

    await ActionFinishAccountDeletion().run(dispatcher, tracker(slots={"account_deleted": True}),
                                            domain())

    assert said(dispatcher)[0] == replies.DELETION_DONE
    for what in ("account is deleted", "chat history", "support cases"):
        assert what in replies.DELETION_DONE
    assert dispatcher.messages[-1]["custom"] == payload(Directive.ERASE_CONVERSATION)


async def test_without_a_deletion_nothing_is_said_and_nothing_erased() -> None:
    dispatcher = CollectingDispatcher()

    events = await ActionFinishAccountDeletion().run(
        dispatcher, tracker(slots={"account_deleted": False, "deletion_login": JANE}), domain())

    assert dispatcher.messages == []
    assert slot_events(events)["deletion_login"] is None


@pytest.mark.parametrize("deleted", [True, False])
async def test_finishing_clears_the_flow_s_slots(deleted: bool) -> None:
    events = await ActionFinishAccountDeletion().run(
        CollectingDispatcher(), tracker(slots={"account_deleted": deleted,
                                               "deletion_login": JANE}), domain())

    slots = slot_events(events)
    assert (slots["deletion_login"], slots["deletion_code"], slots["account_deleted"]) == (
        None, None, False)


# --- wording ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DELETION_REPLIES))
def test_the_flow_never_asks_for_a_password(name: str) -> None:
    for sentence in re.split(r"(?<=[.?!])\s+", DELETION_REPLIES[name]):
        if "password" in sentence.lower():
            assert "never" in sentence.lower(), sentence
