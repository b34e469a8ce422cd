"""Each channel declares its facts once, in its own module; everything else reads them from the
registry: the handoff schema's channel names, the package builders, the engine (is a customer id
a contact, how is text normalised), the console and the Slack inbox (who a customer is)."""

from __future__ import annotations

import pytest
from jsonschema import Draft7Validator

from bot.handoff_package import build_package
from bot.channel_facts import UNKNOWN, CustomerIdKind
from bot.handoff_package import package_from_transcript
from bot.handoff_schema import package_schema
from channels.registry import SPECS, all_facts


def test_every_registered_channel_is_a_valid_package_channel_without_a_schema_edit() -> None:
    channel = package_schema()["properties"]["channel"]
    assert "enum" not in channel  # a new channel is one module and one registry line
    validator = Draft7Validator({"type": "object", "properties": {"channel": channel}})
    for name in all_facts():
        assert list(validator.iter_errors({"channel": name})) == [], name
    assert UNKNOWN.name in all_facts()


def test_every_channel_module_declares_the_facts_its_channel_reports() -> None:
    for spec in SPECS:
        assert spec.facts.name == spec.name and spec.facts.label and spec.facts.customer_noun


@pytest.mark.parametrize(("channel", "contact"), [("sms", "+15550100001"), ("web", None),
                                                   ("slack", None), ("telegram", None)])
def test_only_a_phone_number_id_is_a_contact(channel: str, contact: str | None) -> None:
    facts = all_facts()[channel]
    assert facts.contact_of("+15550100001") == contact
    assert facts.ids_are_contacts is (facts.customer_id is CustomerIdKind.PHONE)


@pytest.mark.parametrize(("channel", "expected"), [
    *[(name, name) for name in sorted(all_facts())],
    ("Fax Machine", "unknown"), ("", "unknown"), ("x" * 40, "unknown")])
def test_both_package_builders_name_the_channel_as_the_schema_does(channel: str,
                                                                   expected: str) -> None:
    built = build_package(conversation_id="c", channel=channel, customer_id="c", events=[],
                          slots={}, steps_tried=[], trigger_kind="customer_request",
                          trigger_detail=None)
    fallback = package_from_transcript(conversation_id="c", channel=channel, customer_id="c",
                                       transcript=[], trigger_kind="customer_request",
                                       trigger_detail="asked")
    assert built["channel"] == fallback["channel"] == expected
