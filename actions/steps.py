"""What the bot has tried in a conversation (the steps_tried slot), as structured entries: what
was done, to what, and how it came out. Decisions read the fields (was the last order lookup a
failed verification?), never the wording; agents read `describe()` in the handoff package."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rasa_sdk import Tracker

MAX_STEPS = 30  # a long chat must not grow the slot forever


class StepKind(StrEnum):
    ORDER_LOOKUP = "order lookup"
    PASSWORD_RESET = "password reset"
    ACCOUNT_DELETION = "account deletion"
    HANDOFF = "handoff"
    NOT_UNDERSTOOD = "not understood"
    NOTE = "note"  # a step recorded as plain text (slots written before steps had fields)


VERIFICATION_FAILED = "verification failed"
_LEGACY_LOOKUP = re.compile(r"^looked up order (#\S+): (.+)$")
_LEGACY_NOT_UNDERSTOOD = "not understood twice in a row"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    outcome: str
    subject: str = ""  # what it was about: "#482913", "case C-1A2B3C4D"

    def describe(self) -> str:
        if self.kind is StepKind.ORDER_LOOKUP:
            return f"looked up order {self.subject}: {self.outcome}"
        if self.kind is StepKind.NOT_UNDERSTOOD:
            return f"not understood {self.outcome}"
        if self.kind is StepKind.NOTE:
            return self.outcome
        return f"{self.kind}: " + " ".join(part for part in (self.subject, self.outcome) if part)

    def to_slot(self) -> dict[str, str]:
        return {"kind": str(self.kind), "outcome": self.outcome, "subject": self.subject}

    @classmethod
    def from_slot(cls, value: Any) -> Step:
        if isinstance(value, dict):
            try:
                return cls(StepKind(value.get("kind")), str(value.get("outcome") or ""),
                           str(value.get("subject") or ""))
            except ValueError:
                pass
        text = str(value)
        # What this code wrote before steps had fields, read as what it was.
        if (looked_up := _LEGACY_LOOKUP.match(text)) is not None:
            return cls(StepKind.ORDER_LOOKUP, looked_up.group(2), looked_up.group(1))
        if text == _LEGACY_NOT_UNDERSTOOD:
            return cls(StepKind.NOT_UNDERSTOOD, "twice in a row")
        return cls(StepKind.NOTE, text)


def steps_of(tracker: Tracker) -> list[Step]:
    return [Step.from_slot(value) for value in tracker.get_slot("steps_tried") or []]


def with_step(tracker: Tracker, step: Step) -> list[dict[str, str]]:
    """The steps_tried slot with one more step."""
    return [s.to_slot() for s in [*steps_of(tracker), step][-MAX_STEPS:]]


def failed_verification(step: Step) -> bool:
    return step.kind is StepKind.ORDER_LOOKUP and step.outcome == VERIFICATION_FAILED
