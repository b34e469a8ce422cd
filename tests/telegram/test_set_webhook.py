"""`python -m channels.telegram set-webhook` registers PUBLIC_BASE_URL/telegram/webhook with the
secret token (and the command menu) through the real Bot API client."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.telegram.conftest import SECRET

REPO = Path(__file__).parents[2]


async def run_cli(env: dict[str, str]) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "channels.telegram", "set-webhook", cwd=REPO,
        env={**clean, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def test_set_webhook_registers_the_url_and_secret(
        fake_telegram: tuple[FakeTelegramAPI, str], telegram_env: dict[str, str]) -> None:
    api = fake_telegram[0]
    code, output = await run_cli({**telegram_env, "PUBLIC_BASE_URL": "https://help.example.com/"})
    assert code == 0, output
    assert api.webhook is not None
    assert api.webhook["url"] == "https://help.example.com/telegram/webhook"
    assert api.webhook["secret_token"] == SECRET
    assert api.webhook["allowed_updates"] == ["message", "callback_query"]
    assert [c["command"] for c in api.commands] == ["start", "help", "agent"]
    assert "https://help.example.com/telegram/webhook" in output
    assert TOKEN.split(":")[1] not in output and SECRET not in output


async def test_set_webhook_without_a_public_url_fails_clearly(
        fake_telegram: tuple[FakeTelegramAPI, str], telegram_env: dict[str, str]) -> None:
    code, output = await run_cli(telegram_env)
    assert code == 1
    assert "PUBLIC_BASE_URL is required" in output
    assert fake_telegram[0].webhook is None


async def test_set_webhook_with_a_rejected_token_fails_without_echoing_it(
        fake_telegram: tuple[FakeTelegramAPI, str], telegram_env: dict[str, str]) -> None:
    wrong = "123456789:WRONG-token-value"
    code, output = await run_cli({**telegram_env, "TELEGRAM_BOT_TOKEN": wrong,
                                  "PUBLIC_BASE_URL": "https://help.example.com"})
    assert code == 1
    assert "rejected TELEGRAM_BOT_TOKEN" in output
    assert "WRONG-token-value" not in output
