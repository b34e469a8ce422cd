"""`python -m bot.rasa_server <rasa arguments>`: Rasa's own command line, with the project's log
redaction installed first, so nothing Rasa or its libraries log (an action server's error body,
a parse warning quoting a message) reaches the log unredacted or unbounded.

The HTTP API's token comes from `RASA_TOKEN` in the environment, not from the command line: a
command line is readable by every local user (`ps`), and a token starting with "-" (one in 64
of secrets.token_urlsafe's) would be read by argparse as an option and stop Rasa with exit 2.

Before the server listens, one warm-up message goes through NLU and the dialogue policies (nothing
is stored): TensorFlow traces its graphs on first use, which would otherwise make the first
customer after every start or restart wait a second or more."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from typing import Any, Mapping, Sequence

from bot.log_redaction import install as install_log_redaction


TOKEN_OPTIONS = ("-t", "--auth-token")
WARM_UP_TEXT = "hello"
DEBUG_LOGGERS_ALLOWED = frozenset({"rasa.core.lock_store"})

log = logging.getLogger("bot.rasa_server")  # not "__main__" when run with -m


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


async def warm_up(agent: Any) -> float:
    """Run one message through NLU and the policies of a loaded agent, storing nothing; returns
    the seconds it took."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    started = time.monotonic()
    parsed = await agent.parse_message(WARM_UP_TEXT)
    tracker = DialogueStateTracker.from_events(
        "warm-up", [ActionExecuted("action_listen"), UserUttered(WARM_UP_TEXT, parsed["intent"],
                                                                 parsed["entities"], parsed)],
        slots=agent.domain.slots)
    agent.predict_next_with_tracker(tracker)
    return time.monotonic() - started


def install_debug_loggers(env: Mapping[str, str]) -> None:
    """RASA_DEBUG_LOGGERS="rasa.core.lock_store": those loggers at DEBUG on stderr, whatever level
    Rasa gives its own (e.g. to see which server of several runs which conversation). Only loggers
    known to log no message content are allowed: Rasa's action logger at DEBUG prints slot values
    (a one-time code among them) that no redaction pattern can tell from other numbers."""
    for name in filter(None, (n.strip() for n in env.get("RASA_DEBUG_LOGGERS", "").split(","))):
        if name not in DEBUG_LOGGERS_ALLOWED:
            log.warning("RASA_DEBUG_LOGGERS: %s is not one of %s; ignored", name,
                        sorted(DEBUG_LOGGERS_ALLOWED))
            continue
        logger = logging.getLogger(name)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s  - %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False


def listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def server_address(args: Sequence[str]) -> tuple[str, int]:
    """Where `rasa run` will listen: its -i/--interface and -p/--port (Rasa's defaults)."""
    host, port = "0.0.0.0", 5005
    for i, arg in enumerate(args):
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg in ("-i", "--interface"):
            host = value
        elif arg in ("-p", "--port") and value.isdigit():
            port = int(value)
        elif arg.startswith("--port="):
            port = int(arg.split("=", 1)[1])
    return ("127.0.0.1" if host in ("0.0.0.0", "") else host), port


def install_warm_up(address: tuple[str, int]) -> None:
    """Wrap Rasa's model loading (a before_server_start listener, so the port opens only after
    it) with a warm-up turn, and log whether the port was still closed when it ended."""
    import rasa.core.run

    load = rasa.core.run.load_agent_on_start

    async def load_and_warm_up(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        if agent is not None and agent.is_ready():
            took = await warm_up(agent)
            state = "already listening" if listening(*address) else "not listening yet"
            log.info("warm-up turn took %.2fs (port %d %s)", took, address[1], state)
        return agent

    rasa.core.run.load_agent_on_start = load_and_warm_up


# Keys of Rasa's structured log events that carry whole conversation events (a failed publish
# to an event broker logs the event it could not publish, customer text included).
EVENT_BODY_KEYS = ("rasa_event", "rasa_events", "tracker_latest_message", "user_message",
                   "parse_data_text", "parse_data_entities", "prediction_events")
NOT_LOGGED = "[event body not logged]"


def install_event_body_filter() -> None:
    """Rasa's structlog pipeline runs its anonymizer first on every event: wrap it so those keys
    never reach a log line (the record factory's redaction then sees only the rest)."""
    import rasa.utils.log_utils as log_utils

    anonymize = log_utils._anonymizer
    if getattr(anonymize, "drops_event_bodies", False):
        return

    def drop_event_bodies(logger: Any, name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        for key in EVENT_BODY_KEYS:
            if key in event_dict:
                event_dict[key] = NOT_LOGGED
        return anonymize(logger, name, event_dict)

    drop_event_bodies.drops_event_bodies = True  # type: ignore[attr-defined]
    log_utils._anonymizer = drop_event_bodies


def main() -> None:
    install_log_redaction()
    install_event_body_filter()
    install_debug_loggers(os.environ)
    address = server_address(sys.argv[1:])
    install_warm_up(address)
    # Each Rasa server's own spool file of analytics events (bot/rasa_event_broker.py).
    os.environ["RASA_SERVER_PORT"] = str(address[1])
    from rasa.__main__ import main as rasa_main

    sys.argv = rasa_argv(sys.argv[1:], os.environ)
    rasa_main()


if __name__ == "__main__":
    main()
