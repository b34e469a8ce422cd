"""Agent accounts for the web console: loaded from configuration, passwords hashed with scrypt.

Accounts come from either
  AGENT_ACCOUNTS_FILE  a YAML file:  agents: [{email: ..., name: ..., password_hash: ...,
                                               role: lead}]
  AGENT_ACCOUNTS       inline:       "ana@northwind.example:scrypt$...:lead,bo@example.com:scrypt$..."
(both may be set; the file wins for an e-mail listed twice). Roles: `agent` (the default: cases)
and `lead` (cases, plus the dashboard, quality review and alerts).

A password hash looks like  scrypt$16384$8$1$<salt, base64>$<hash, base64>  (n, r, p, a random
16-byte salt, a 32-byte key). Make one with:

    python -m inbox.agents hash-password          # prompts twice, or reads one line from stdin
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Callable, Mapping

import yaml

SCHEME = "scrypt"
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2**14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
# Refuse hashes that would make one login cost more than ~128 MB or take seconds (a typo in the
# configuration must not turn the login form into a denial of service).
MAX_N, MAX_R, MAX_P = 2**20, 16, 4
MAX_PASSWORD_CHARS = 1024


class AccountsError(ValueError):
    """The account configuration is present but unusable."""


class AgentRole(StrEnum):
    AGENT = "agent"
    LEAD = "lead"


@dataclass(frozen=True)
class Agent:
    email: str
    name: str
    password_hash: str = ""
    role: AgentRole = AgentRole.AGENT

    @property
    def is_lead(self) -> bool:
        return self.role is AgentRole.LEAD

    def public(self) -> dict[str, str]:
        return {"email": self.email, "name": self.name, "role": str(self.role)}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=256 * r * (n + p + 2) + 1024 * 1024)


def hash_password(password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R,
                  p: int = DEFAULT_P) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, n, r, p, KEY_BYTES)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(key)}"


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, key) of a stored hash; AccountsError when it is not one we accept."""
    parts = encoded.strip().split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise AccountsError("not a scrypt$n$r$p$salt$hash password hash")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except ValueError as exc:
        raise AccountsError(f"malformed password hash: {exc}") from exc
    if n < 2 or n & (n - 1) or n > MAX_N or not 1 <= r <= MAX_R or not 1 <= p <= MAX_P:
        raise AccountsError(f"scrypt parameters out of range (n={n}, r={r}, p={p})")
    if len(salt) < 8 or not 16 <= len(key) <= 64:
        raise AccountsError("password hash salt or key has the wrong length")
    return n, r, p, salt, key


def verify_password(password: str, encoded: str, *,
                    compare: Callable[[bytes, bytes], bool] = hmac.compare_digest) -> bool:
    """Constant-time comparison of the derived key; False for anything malformed."""
    if not password or len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        n, r, p, salt, key = parse_hash(encoded)
    except AccountsError:
        return False
    return compare(_scrypt(password, salt, n, r, p, len(key)), key)  # constant time


# Checked against when the e-mail is unknown, so a wrong e-mail costs as much time as a wrong
# password (no account enumeration by timing).
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_login(accounts: Mapping[str, Agent], email: str, password: str) -> Agent | None:
    agent = accounts.get(normalise_email(email))
    if agent is None:
        verify_password(password, _DUMMY_HASH)
        return None
    return agent if verify_password(password, agent.password_hash) else None


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def display_name(email: str) -> str:
    return email.split("@")[0].replace(".", " ").replace("_", " ").title() if email else "Agent"


def _role(value: object, where: str) -> AgentRole:
    try:
        return AgentRole(str(value or AgentRole.AGENT).strip().lower())
    except ValueError:
        raise AccountsError(f"{where}: role {value!r} is not one of "
                            f"{', '.join(AgentRole)}") from None


def _agent(email: str, password_hash: str, name: str | None, where: str,
           role: AgentRole = AgentRole.AGENT) -> Agent:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountsError(f"{where}: {email!r} is not an e-mail address")
    try:
        parse_hash(password_hash)
    except AccountsError as exc:
        raise AccountsError(f"{where}: account {email}: {exc}") from exc
    return Agent(email=email, name=(name or "").strip() or display_name(email),
                 password_hash=password_hash.strip(), role=role)


def load_accounts(env: Mapping[str, str]) -> dict[str, Agent]:
    """Every configured account by (lower-case) e-mail; empty when none is configured."""
    accounts: dict[str, Agent] = {}
    inline = env.get("AGENT_ACCOUNTS", "")
    for item in filter(None, (part.strip() for part in inline.split(","))):
        email, sep, rest = item.partition(":")
        if not sep:
            raise AccountsError("AGENT_ACCOUNTS entries look like email:scrypt$...[:role]")
        # A hash never contains ":" (base64 and "$"), so a third field is the role.
        password_hash, _, role = rest.partition(":")
        agent = _agent(email, password_hash, None, "AGENT_ACCOUNTS",
                       _role(role, "AGENT_ACCOUNTS"))
        accounts[agent.email] = agent
    path = env.get("AGENT_ACCOUNTS_FILE")
    if path:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise AccountsError(f"AGENT_ACCOUNTS_FILE {path}: {exc}") from exc
        entries = data.get("agents") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise AccountsError(f"AGENT_ACCOUNTS_FILE {path}: expected 'agents:' with a list")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not entry.get("email") \
                    or not entry.get("password_hash"):
                raise AccountsError(f"AGENT_ACCOUNTS_FILE {path}: agents[{i}] needs email and "
                                    "password_hash")
            agent = _agent(str(entry["email"]), str(entry["password_hash"]), entry.get("name"),
                           f"AGENT_ACCOUNTS_FILE {path}",
                           _role(entry.get("role"), f"AGENT_ACCOUNTS_FILE {path}"))
            accounts[agent.email] = agent
    return accounts


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat it: "):
            raise SystemExit("The passwords differ; nothing printed.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inbox.agents",
                                     description="Agent console accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    hp = sub.add_parser("hash-password", help="read a password (stdin or prompt), print its hash")
    hp.add_argument("--n", type=int, default=DEFAULT_N, help="scrypt cost (a power of two)")
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        password = _read_password()
        if len(password) < 8:
            print("Refusing a password shorter than 8 characters.", file=sys.stderr)
            return 2
        if args.n < 2 or args.n & (args.n - 1) or args.n > MAX_N:
            print(f"--n must be a power of two up to {MAX_N}.", file=sys.stderr)
            return 2
        print(hash_password(password, n=args.n))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
