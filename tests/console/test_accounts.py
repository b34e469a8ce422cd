"""Agent accounts: scrypt hashes with a random salt, verified in constant time; configuration from
AGENT_ACCOUNTS_FILE (YAML) or AGENT_ACCOUNTS; the hash-password CLI."""

from __future__ import annotations

import base64
import hmac
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from inbox.agents import (AccountsError, check_login, hash_password, load_accounts, parse_hash,
                          verify_password)

ROOT = Path(__file__).resolve().parents[2]


def test_hash_format_and_verification() -> None:
    encoded = hash_password("s3cret-enough")
    scheme, n, r, p, salt, key = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(key)) == 32
    assert verify_password("s3cret-enough", encoded)
    assert not verify_password("s3cret-enougH", encoded)
    assert not verify_password("", encoded)


def test_same_password_gets_a_different_salt_each_time() -> None:
    assert hash_password("same-password") != hash_password("same-password")


def test_verification_compares_in_constant_time() -> None:
    """By default through hmac.compare_digest; the comparison is injected so this can see it."""
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return hmac.compare_digest(a, b)

    assert verify_password("pw-for-timing", hash_password("pw-for-timing"), compare=spy)
    assert len(calls) == 1
    assert inspect.signature(verify_password).parameters["compare"].default is \
        hmac.compare_digest


@pytest.mark.parametrize("bad", [
    "", "plain-text-password", "bcrypt$10$abc", "scrypt$16384$8$1$bm9$",
    "scrypt$16383$8$1$c2FsdHNhbHQ=$" + "A" * 44,          # n not a power of two
    "scrypt$4194304$8$1$c2FsdHNhbHQ=$" + "A" * 44,        # n too expensive
    "scrypt$16384$8$1$!!!$" + "A" * 44,
])
def test_malformed_hashes_never_verify(bad: str) -> None:
    assert not verify_password("anything", bad)
    with pytest.raises(AccountsError):
        parse_hash(bad)


def test_accounts_from_the_inline_variable() -> None:
    h1, h2 = hash_password("first-password"), hash_password("second-password")
    accounts = load_accounts(
        {"AGENT_ACCOUNTS": f" Ana@Example.com:{h1} , bo.smith@example.com:{h2}"})
    assert set(accounts) == {"ana@example.com", "bo.smith@example.com"}
    assert accounts["bo.smith@example.com"].name == "Bo Smith"
    ana = accounts["ana@example.com"]
    assert check_login(accounts, "ANA@example.com ", "first-password") == ana
    assert check_login(accounts, "ana@example.com", "second-password") is None
    assert check_login(accounts, "nobody@example.com", "first-password") is None


def test_accounts_from_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "agents.yml"
    path.write_text(
        "agents:\n"
        "  - email: carla@northwind.example\n    name: Carla Díaz\n"
        f"    password_hash: '{hash_password('carla-pass-1')}'\n"
        f"  - email: dev@northwind.example\n    password_hash: '{hash_password('dev-pass-123')}'\n",
        encoding="utf-8")
    extra = f"extra@northwind.example:{hash_password('extra-pass')}"
    accounts = load_accounts({"AGENT_ACCOUNTS_FILE": str(path), "AGENT_ACCOUNTS": extra})
    assert set(accounts) == {"carla@northwind.example", "dev@northwind.example",
                             "extra@northwind.example"}
    assert accounts["carla@northwind.example"].name == "Carla Díaz"
    assert accounts["dev@northwind.example"].name == "Dev"
    assert check_login(accounts, "carla@northwind.example", "carla-pass-1")


@pytest.mark.parametrize("env, message", [
    ({"AGENT_ACCOUNTS": "ana@example.com"}, "email:scrypt"),
    ({"AGENT_ACCOUNTS": "ana@example.com:plaintext"}, "account ana@example.com"),
    ({"AGENT_ACCOUNTS": "not-an-email:scrypt$16384$8$1$c2FsdHNhbHQ=$" + "A" * 44}, "e-mail"),
    ({"AGENT_ACCOUNTS_FILE": "/nonexistent/agents.yml"}, "AGENT_ACCOUNTS_FILE"),
])
def test_unusable_configuration_fails_loudly(env: dict[str, str], message: str) -> None:
    with pytest.raises(AccountsError, match=message):
        load_accounts(env)


def test_a_file_without_an_agents_list_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "agents.yml"
    path.write_text("agents:\n  - email: x@example.com\n", encoding="utf-8")
    with pytest.raises(AccountsError, match="needs email and password_hash"):
        load_accounts({"AGENT_ACCOUNTS_FILE": str(path)})
    path.write_text("people: []\n", encoding="utf-8")
    with pytest.raises(AccountsError, match="expected 'agents:'"):
        load_accounts({"AGENT_ACCOUNTS_FILE": str(path)})


def test_no_accounts_configured_means_none() -> None:
    assert load_accounts({}) == {}


def test_hash_password_cli_reads_stdin_and_prints_a_usable_hash() -> None:
    done = subprocess.run([sys.executable, "-m", "inbox.agents", "hash-password"],
                          input="correct horse battery\n", capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True)
    encoded = done.stdout.strip()
    assert encoded.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in done.stdout + done.stderr
    assert verify_password("correct horse battery", encoded)


def test_hash_password_cli_refuses_short_passwords() -> None:
    done = subprocess.run([sys.executable, "-m", "inbox.agents", "hash-password"],
                          input="short\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2 and done.stdout == "" and "shorter than 8" in done.stderr


@pytest.mark.parametrize(("inline", "role"), [
    ("ana@example.com:{hash}", "agent"),
    ("ana@example.com:{hash}:lead", "lead"),
    ("ana@example.com:{hash}:LEAD", "lead"),
    ("ana@example.com:{hash}:agent", "agent"),
])
def test_inline_accounts_may_name_a_role(inline: str, role: str) -> None:
    accounts = load_accounts({"AGENT_ACCOUNTS": inline.format(hash=hash_password("pw-long-enough"))})
    assert str(accounts["ana@example.com"].role) == role


def test_a_role_in_the_accounts_file(tmp_path: Path) -> None:
    path = tmp_path / "agents.yml"
    path.write_text(f"agents:\n  - email: lee@example.com\n    role: lead\n"
                    f"    password_hash: '{hash_password('pw-long-enough')}'\n")
    assert load_accounts({"AGENT_ACCOUNTS_FILE": str(path)})["lee@example.com"].is_lead


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(AccountsError, match="role 'boss'"):
        load_accounts({"AGENT_ACCOUNTS": f"a@example.com:{hash_password('pw-long-enough')}:boss"})
