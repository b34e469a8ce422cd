"""`python -m bot.rasa_server` hands Rasa its API token from the environment, in a form Rasa's own
argument parser reads whatever characters the token has."""

from __future__ import annotations

import pytest
from rasa.__main__ import create_argument_parser

from bot.rasa_server import MissingToken, install_debug_loggers, rasa_argv, server_address


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


@pytest.mark.parametrize("args, address", [
    (["run", "--enable-api", "-i", "127.0.0.1", "-p", "5006"], ("127.0.0.1", 5006)),
    (["run", "--port=5010"], ("127.0.0.1", 5010)),
    (["run", "-i", "10.0.0.4"], ("10.0.0.4", 5005)),
])
def test_the_warm_up_knows_where_the_server_will_listen(args: list[str],
                                                        address: tuple[str, int]) -> None:
    assert server_address(args) == address


def test_only_debug_loggers_without_message_content_are_allowed(
        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    install_debug_loggers({"RASA_DEBUG_LOGGERS": "rasa.core.actions.action"})
    assert logging.getLogger("rasa.core.actions.action").level != logging.DEBUG
    assert "ignored" in caplog.text
