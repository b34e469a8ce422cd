"""`python -m bot.rasa_server` hands Rasa its API token from the environment, in a form Rasa's own
argument parser reads whatever characters the token has."""

from __future__ import annotations

import pytest
from rasa.__main__ import create_argument_parser

from bot.rasa_server import MissingToken, rasa_argv


@pytest.mark.parametrize("token", ["plain-token", "-starts-with-a-dash", "--looks-like-an-option",
                                   "a=b=c"])
def test_rasa_reads_the_token_from_the_environment_whatever_it_looks_like(token: str) -> None:
    argv = rasa_argv(["run", "--enable-api", "-p", "5005"], {"RASA_TOKEN": token})
    parsed = create_argument_parser().parse_args(argv[1:])
    assert parsed.auth_token == token
    assert parsed.port == 5005


def test_an_http_api_without_a_token_is_refused() -> None:
    with pytest.raises(MissingToken):
        rasa_argv(["run", "--enable-api"], {})


def test_without_the_http_api_no_token_is_needed() -> None:
    argv = rasa_argv(["run"], {})
    assert create_argument_parser().parse_args(argv[1:]).auth_token is None


@pytest.mark.parametrize("given", [["--auth-token=explicit"], ["--auth-token", "explicit"],
                                   ["-t", "explicit"], ["-texplicit"]])
def test_a_token_given_on_the_command_line_is_not_overridden(given: list[str]) -> None:
    argv = rasa_argv(["run", "--enable-api", *given], {"RASA_TOKEN": "from-env"})
    assert create_argument_parser().parse_args(argv[1:]).auth_token == "explicit"


@pytest.mark.parametrize("args", [["train", "--data", "data"], ["run", "actions"],
                                  ["run", "actions", "--actions", "actions"]])
def test_other_commands_get_no_token(args: list[str]) -> None:
    argv = rasa_argv(args, {"RASA_TOKEN": "t"})
    assert argv == ["rasa", *args]
    create_argument_parser().parse_args(argv[1:])  # and Rasa takes them
