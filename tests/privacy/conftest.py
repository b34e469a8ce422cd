"""Privacy fixtures: the handoff scenario gateway (every channel on, agents on the console and
in a Slack inbox channel), here on the real Redis."""

from tests.handoff.conftest import fakes, make_agent, make_customer, make_gateway  # noqa: F401
