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


TOKEN_OPTIONS = ("-t", "--auth-token")


class MissingToken(SystemExit):
    pass


def rasa_argv(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Rasa's argv: `args`, plus `--auth-token=$RASA_TOKEN` when they start the Rasa server
    (`run`, not `run actions`) without a token of their own. An HTTP API without a token is
    refused: anyone reaching the port could read and rewrite every conversation."""
    argv = ["rasa", *args]
    if args[:1] != ["run"] or args[1:2] == ["actions"]:
        return argv
    explicit = any(a in TOKEN_OPTIONS or a.startswith("--auth-token=") or
                   (a.startswith("-t") and len(a) > 2) for a in args[1:])
    token = env.get("RASA_TOKEN")
    if token and not explicit:
        argv.append(f"--auth-token={token}")
    elif not explicit and "--enable-api" in args:
        raise MissingToken("bot.rasa_server: --enable-api needs RASA_TOKEN (Rasa's HTTP API "
                           "would take any caller)")
    return argv


def main() -> None:
    install_log_redaction()
    from rasa.__main__ import main as rasa_main

    sys.argv = rasa_argv(sys.argv[1:], os.environ)
    rasa_main()


if __name__ == "__main__":
    main()
