"""`python -m bot.rasa_server` hands Rasa its API token from the environment, in a form Rasa's own
argument parser reads whatever characters the token has."""

from __future__ import annotations

import pytest
from rasa.__main__ import create_argument_parser

from bot.rasa_server import rasa_argv


@pytest.mark.parametrize("token", ["plain-token", "-starts-with-a-dash", "--looks-like-an-option",
                                   "a=b=c"])
def test_rasa_reads_the_token_from_the_environment_whatever_it_looks_like(token: str) -> None:
    argv = rasa_argv(["run", "--enable-api", "-p", "5005"], {"RASA_TOKEN": token})
    parsed = create_argument_parser().parse_args(argv[1:])
    assert parsed.auth_token == token
    assert parsed.port == 5005


def test_without_a_token_rasa_gets_none() -> None:
    argv = rasa_argv(["run", "--enable-api"], {})
    assert create_argument_parser().parse_args(argv[1:]).auth_token is None


def test_a_token_given_on_the_command_line_is_not_overridden() -> None:
    argv = rasa_argv(["run", "--auth-token=explicit"], {"RASA_TOKEN": "from-env"})
    assert create_argument_parser().parse_args(argv[1:]).auth_token == "explicit"


def test_other_commands_get_no_token() -> None:
    assert rasa_argv(["train", "--data", "data"], {"RASA_TOKEN": "t"}) == [
        "rasa", "train", "--data", "data"]
