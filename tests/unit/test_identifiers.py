"""Order numbers, contacts and logins as customers type them."""

import pytest

from bot.identifiers import (
    looks_like_attempted_order_id,
    parse_contact,
    parse_login,
    parse_order_id,
)


@pytest.mark.parametrize("text", [
    "482913", "#482913", "ORD-482913", "ord482913", "order no. 482913", "Order #482913 pls",
    "its 482913 thx", "order number: 482913",
])
def test_common_order_number_formats_are_accepted(text: str) -> None:
    assert parse_order_id(text) == "482913"


@pytest.mark.parametrize("text", ["48291", "4829133", "ORD-48291", "abc", "", "482913482913"])
def test_malformed_order_numbers_are_rejected(text: str) -> None:
    assert parse_order_id(text) is None


def test_two_different_order_numbers_are_ambiguous() -> None:
    assert parse_order_id("is it 482913 or 482914") is None


@pytest.mark.parametrize("text, attempted", [("48291", True), ("no idea", False), ("482913", False)])
def test_attempted_order_number_is_told_apart_from_no_number(text: str, attempted: bool) -> None:
    assert looks_like_attempted_order_id(text) is attempted


@pytest.mark.parametrize("text, contact", [
    ("jane.doe@example.com", "jane.doe@example.com"),
    ("its JANE.DOE@Example.COM", "jane.doe@example.com"),
    ("+1 (555) 010-0001", "+15550100001"),
    ("555.010.0001", "5550100001"),
    ("my number is +44 7700 900123", "+447700900123"),
])
def test_contacts_are_normalised(text: str, contact: str) -> None:
    assert parse_contact(text) == contact


@pytest.mark.parametrize("text", ["dunno", "12345", "jane at example dot com"])
def test_non_contacts_are_rejected(text: str) -> None:
    assert parse_contact(text) is None


@pytest.mark.parametrize("text, login", [
    ("janedoe", "janedoe"), ("my username is omarh", "omarh"), ("Jane@Example.com", "jane@example.com"),
])
def test_logins(text: str, login: str) -> None:
    assert parse_login(text) == login


@pytest.mark.parametrize("text", ["i forgot everything about it", "", "??"])
def test_sentences_are_not_logins(text: str) -> None:
    assert parse_login(text) is None
