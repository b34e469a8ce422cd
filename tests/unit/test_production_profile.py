"""The production profile's files (deploy/, docs/production.md) are usable as they stand: the
example environment sets everything endpoints.yml needs and is accepted by the gateway's
settings, and every process they start exists and is one of the Rasa servers the gateways use."""

from __future__ import annotations

import re
import shlex
from importlib.util import find_spec
from pathlib import Path

import pytest

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROCESS_FILES = [DEPLOY / "Procfile", *sorted((DEPLOY / "systemd").glob("*.service"))]


def example_env() -> dict[str, str]:
    env = {}
    for line in (DEPLOY / "helpdesk.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def commands() -> list[list[str]]:
    found = []
    for path in PROCESS_FILES:
        for line in path.read_text().splitlines():
            if path.name == "Procfile" and line and not line.startswith("#"):
                found.append(shlex.split(line.partition(":")[2]))
            elif line.startswith("ExecStart="):
                found.append(shlex.split(line.removeprefix("ExecStart=")))
    return found


def test_the_example_sets_every_variable_endpoints_yml_needs() -> None:
    needed = set(re.findall(r"\$\{(\w+)\}", (ROOT / "endpoints.yml").read_text()))
    assert needed <= set(example_env()), needed - set(example_env())


def test_the_gateway_accepts_the_example_settings() -> None:
    settings = Settings.from_env(example_env())
    assert len(settings.rasa_urls) == 2
    assert settings.redis_url and settings.tracker_store is not None
    assert settings.tracker_store.kind == "redis"


def test_analytics_go_through_rabbitmq_into_postgresql() -> None:
    settings = Settings.from_env(example_env())
    assert settings.analytics_broker == "pika"
    assert (settings.analytics_db_url or "").startswith("postgresql://")
    assert settings.metrics_token


def test_more_than_one_rasa_server_shares_the_redis_lock_store() -> None:
    env = example_env()
    assert env["RASA_LOCK_STORE"] == "redis" and env["RASA_TRACKER_STORE"] == "redis"


@pytest.mark.parametrize("argv", commands(), ids=lambda argv: " ".join(argv[-4:]))
def test_every_process_started_exists(argv: list[str]) -> None:
    module = argv[argv.index("-m") + 1]
    assert find_spec(module) is not None, module


def test_the_procfiles_rasa_servers_are_the_ones_the_gateways_use() -> None:
    ports = {argv[argv.index("-p") + 1] for argv in commands()
             if "bot.rasa_server" in argv and "%i" not in argv}
    used = {url.rsplit(":", 1)[1] for url in Settings.from_env(example_env()).rasa_urls}
    assert ports == used and len(ports) == 2


def test_every_process_binds_to_loopback_unless_told() -> None:
    for argv in commands():
        if "-i" in argv:
            assert argv[argv.index("-i") + 1] == "127.0.0.1"
    assert example_env()["GATEWAY_HOST"] == "127.0.0.1"
    assert example_env()["ACTION_SERVER_HOST"] == "127.0.0.1"


def test_make_runs_demo_agent_is_a_lead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: the demo agent of `make run` sees the dashboard."""
    from bot.stack import Stack
    from inbox.agents import load_accounts

    monkeypatch.delenv("AGENT_ACCOUNTS", raising=False)  # configured accounts replace the demo one
    monkeypatch.delenv("AGENT_ACCOUNTS_FILE", raising=False)
    stack = Stack(state_dir=tmp_path)
    accounts = load_accounts(stack.env())
    assert accounts[stack.demo_agent[0]].is_lead
