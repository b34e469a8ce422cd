"""Steps tried are structured slot entries: decisions read their fields, agents read their
description; the texts this code stored before steps had fields are read as what they were,
anything else as a note that is shown and never decides anything."""

from __future__ import annotations

import pytest

from actions.steps import VERIFICATION_FAILED, Step, StepKind, failed_verification


@pytest.mark.parametrize(("step", "described"), [
    (Step(StepKind.ORDER_LOOKUP, VERIFICATION_FAILED, "#482913"),
     "looked up order #482913: verification failed"),
    (Step(StepKind.PASSWORD_RESET, "reset link requested"), "password reset: reset link requested"),
    (Step(StepKind.HANDOFF, "", "case C-1A2B3C4D"), "handoff: case C-1A2B3C4D"),
    (Step(StepKind.NOT_UNDERSTOOD, "twice in a row"), "not understood twice in a row"),
    (Step(StepKind.NOTE, "looked up order #1: verification failed"),
     "looked up order #1: verification failed"),
])
def test_a_step_round_trips_through_the_slot_and_reads_well(step: Step, described: str) -> None:
    assert Step.from_slot(step.to_slot()) == step
    assert step.describe() == described


@pytest.mark.parametrize(("stored", "step"), [
    ("looked up order #1: verification failed",
     Step(StepKind.ORDER_LOOKUP, VERIFICATION_FAILED, "#1")),
    ("not understood twice in a row", Step(StepKind.NOT_UNDERSTOOD, "twice in a row")),
])
def test_the_texts_stored_before_steps_had_fields_are_read_as_what_they_were(
        stored: str, step: Step) -> None:
    assert Step.from_slot(stored) == step and step.describe() == stored


@pytest.mark.parametrize("stored", ["handed over somehow", {"kind": "teleport", "outcome": "x"},
                                    42])
def test_anything_else_in_the_slot_is_a_note_and_never_a_decision(stored: object) -> None:
    step = Step.from_slot(stored)
    assert step.kind is StepKind.NOTE and not failed_verification(step)
