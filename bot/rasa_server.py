"""`python -m bot.rasa_server <rasa arguments>`: Rasa's own command line, with the project's log
redaction installed first, so nothing Rasa or its libraries log (an action server's error body,
a parse warning quoting a message) reaches the log unredacted or unbounded."""

from __future__ import annotations

import sys

from bot.log_redaction import install as install_log_redaction


def main() -> None:
    install_log_redaction()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
