"""`python -m bot.rasa_server <rasa arguments>`: Rasa's own command line, with the project's log
redaction installed first, so nothing Rasa or its libraries log (an action server's error body,
a parse warning quoting a message) reaches the log unredacted or unbounded.

The HTTP API's token comes from `RASA_TOKEN` in the environment, not from the command line: a
command line is readable by every local user (`ps`), and a token starting with "-" (one in 64
of secrets.token_urlsafe's) would be read by argparse as an option and stop Rasa with exit 2."""

from __future__ import annotations

import os
import sys
from typing import Mapping, Sequence

from bot.log_redaction import install as install_log_redaction


def rasa_argv(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Rasa's argv: `args`, plus `--auth-token=$RASA_TOKEN` for `run` when the token is set."""
    argv = ["rasa", *args]
    token = env.get("RASA_TOKEN")
    if token and args[:1] == ["run"] and not any(
            a == "--auth-token" or a.startswith("--auth-token=") for a in args):
        argv.append(f"--auth-token={token}")
    return argv


def main() -> None:
    install_log_redaction()
    from rasa.__main__ import main as rasa_main

    sys.argv = rasa_argv(sys.argv[1:], os.environ)
    rasa_main()


if __name__ == "__main__":
    main()
