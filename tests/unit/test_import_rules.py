"""The layering that makes a channel one module: the core never imports a channel or an inbox
(bot/app.py, the composition root, is the one place that knows everything; bot/stack.py, which
starts the processes of `make run`, seeds the demo agent's account), a channel uses the core
only through its port (bot/channel_port.py) and an inbox only through its own
(bot/inbox_port.py), besides a few self-contained helper modules.
Read from the source (every import statement, also inside functions), not from what happens to
be loaded."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSITION_ROOTS = {"bot.app", "bot.stack"}
CHANNEL_PORT = "bot.channel_port"
INBOX_PORT = "bot.inbox_port"
# Helpers with no state and no knowledge of the core: each imports nothing else of bot/.
HELPERS = {"bot.http_bodies", "bot.safe_json", "bot.redaction", "bot.http_origin"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module an import statement in the file names (`from a import b` names a and a.b:
    b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def known_modules() -> set[str]:
    return {module_name(p) for package in ("bot", "channels", "inbox") for p in modules(package)}


@pytest.mark.parametrize("path", modules("bot"), ids=module_name)
def test_the_core_imports_no_channel_and_no_inbox(path: Path) -> None:
    if module_name(path) in COMPOSITION_ROOTS:
        return
    wrong = {name for name in imports_of(path)
             if in_package(name, "channels") or in_package(name, "inbox")}
    assert not wrong, f"{module_name(path)} imports {sorted(wrong)}"


@pytest.mark.parametrize(("path", "port"), [
    *[(path, CHANNEL_PORT) for path in modules("channels")],
    *[(path, INBOX_PORT) for path in modules("inbox")]], ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_channels_and_inboxes_use_the_core_only_through_their_port(path: Path, port: str) -> None:
    known = known_modules()
    wrong = {name for name in imports_of(path) if in_package(name, "bot") and name in known
             and name not in HELPERS | {port}}
    assert not wrong, f"{module_name(path)} imports {sorted(wrong)} (use {port})"


@pytest.mark.parametrize("helper", sorted(HELPERS))
def test_the_helpers_channels_may_use_know_nothing_of_the_core(helper: str) -> None:
    path = ROOT / (helper.replace(".", "/") + ".py")
    wrong = {name for name in imports_of(path) if in_package(name, "bot") and
             name in known_modules() and name not in HELPERS}
    assert not wrong, f"{helper} imports {sorted(wrong)}"


def test_the_rules_see_the_imports_they_judge() -> None:
    # A rule that parsed nothing would pass everything.
    assert CHANNEL_PORT in imports_of(ROOT / "channels" / "sms.py")
    assert INBOX_PORT in imports_of(ROOT / "inbox" / "console.py")
    assert "channels.registry" in imports_of(ROOT / "bot" / "app.py")
