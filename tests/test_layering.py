"""The layering contracts in `.importlinter` (import-linter): the core imports no chat platform
and no front end, front ends never import each other, the Discord cogs never import Telegram.

CI runs only `python3 -m pytest`, so the contracts are checked here."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
CONTRACT_NAMES = (
    "The core imports no chat platform and no front end",
    "A front end never imports another front end",
    "The Discord cogs import nothing of Telegram",
)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contract file on the packages found from `cwd`."""
    command = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(CONFIG)!r}, no_cache=True, no_logo=True))"
    )
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [sys.executable, "-c", command], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_project_keeps_every_layering_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACT_NAMES:
        assert f"{name} KEPT" in result.stdout


def test_the_contracts_name_the_platform_libraries_and_both_front_ends() -> None:
    config = configparser.ConfigParser()
    config.read(CONFIG)
    core = config["importlinter:contract:core-is-platform-neutral"]
    assert core["source_modules"].split() == ["bot.core"]
    assert set(core["forbidden_modules"].split()) >= {
        "discord",
        "aiogram",
        "bot.frontends",
        "cogs",
        "bot.launcher",
        "bot.cli",
    }
    assert config["importlinter:contract:front-ends-are-independent"]["modules"].split() == [
        "bot.frontends.discord_bot",
        "bot.frontends.telegram_bot",
    ]


def write_module(root: Path, dotted: str, source: str = "") -> None:
    path = root.joinpath(*dotted.split(".")) / "__init__.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def test_each_contract_breaks_when_its_rule_is_broken(tmp_path: Path) -> None:
    # A miniature project with the same package names, breaking every rule once.
    write_module(tmp_path, "bot")
    write_module(tmp_path, "bot.core", "import discord\n")
    write_module(tmp_path, "bot.launcher")
    write_module(tmp_path, "bot.cli")
    write_module(tmp_path, "bot.frontends")
    write_module(tmp_path, "bot.frontends.discord_bot", "import bot.frontends.telegram_bot\n")
    write_module(tmp_path, "bot.frontends.telegram_bot")
    write_module(tmp_path, "cogs", "import aiogram\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    for name in CONTRACT_NAMES:
        assert f"{name} BROKEN" in result.stdout, result.stdout
